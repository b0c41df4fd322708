# mk/install.mk — `make install` / `make uninstall` of the three daemons, their
# configuration, the offline model and the systemd units, under PREFIX
# (default /usr/local) and staged below DESTDIR for packaging:
#
#   $(bindir)       dispatchai-ingress, dispatchai-classifier, dispatchai-gateway
#   $(DAI_CONFDIR)  <daemon>.conf and prompt.txt (an existing file is kept)
#   $(DAI_DATADIR)  offline-model.bin (the units' working directory)
#   $(unitdir)      dispatchai-<daemon>.service
#
# The daemons' built-in paths are relative (config/prompt.txt, classifier/model/...),
# right for a checkout; the installed .conf files name the installed files by
# absolute path instead, and the units pass --config. The committed units are
# written for the default PREFIX; other prefixes get their paths substituted.

PREFIX     ?= /usr/local
bindir     ?= $(PREFIX)/bin
sysconfdir ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
datadir    ?= $(PREFIX)/share
unitdir    ?= $(PREFIX)/lib/systemd/system
DAI_CONFDIR = $(sysconfdir)/dispatchai
DAI_DATADIR = $(datadir)/dispatchai
INSTALL    ?= install

DAI_CONF_FILES := $(wildcard config/*.conf) config/prompt.txt
DAI_UNIT_FILES := $(wildcard config/systemd/*.service)
DAI_DATA_FILES := classifier/model/offline-model.bin

.PHONY: install uninstall
install: $(DAEMON_BINS)
	$(INSTALL) -d '$(DESTDIR)$(bindir)' '$(DESTDIR)$(DAI_CONFDIR)' '$(DESTDIR)$(DAI_DATADIR)' \
	    '$(DESTDIR)$(unitdir)'
	$(INSTALL) -m 0755 $(DAEMON_BINS) '$(DESTDIR)$(bindir)/'
	$(INSTALL) -m 0644 $(DAI_DATA_FILES) '$(DESTDIR)$(DAI_DATADIR)/'
	@for f in $(DAI_CONF_FILES); do \
	    dest='$(DESTDIR)$(DAI_CONFDIR)/'$${f##*/}; \
	    if [ -e "$$dest" ]; then echo "install: keeping $$dest"; continue; fi; \
	    echo "install: $$dest"; \
	    sed -e 's|"config/|"$(DAI_CONFDIR)/|g' -e 's|"classifier/model/|"$(DAI_DATADIR)/|g' \
	        "$$f" > "$$dest.tmp" && chmod 0644 "$$dest.tmp" && mv "$$dest.tmp" "$$dest" || exit 1; \
	done
	@for f in $(DAI_UNIT_FILES); do \
	    dest='$(DESTDIR)$(unitdir)/'$${f##*/}; \
	    echo "install: $$dest"; \
	    sed -e 's|/usr/local/etc/dispatchai|$(DAI_CONFDIR)|g' \
	        -e 's|/usr/local/share/dispatchai|$(DAI_DATADIR)|g' \
	        -e 's|/usr/local/bin|$(bindir)|g' "$$f" > "$$dest.tmp" && \
	    chmod 0644 "$$dest.tmp" && mv "$$dest.tmp" "$$dest" || exit 1; \
	done

# Configuration files are left in place (they may have been edited).
uninstall:
	rm -f $(foreach f,$(notdir $(DAEMON_BINS)),'$(DESTDIR)$(bindir)/$(f)') \
	    $(foreach f,$(notdir $(DAI_UNIT_FILES)),'$(DESTDIR)$(unitdir)/$(f)') \
	    $(foreach f,$(notdir $(DAI_DATA_FILES)),'$(DESTDIR)$(DAI_DATADIR)/$(f)')
	rmdir '$(DESTDIR)$(DAI_DATADIR)' 2>/dev/null || true
