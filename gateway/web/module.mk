# gateway/web/module.mk — the dashboard (index.html, app.js, style.css, ...)
# embedded into the gateway: scripts/gen-web-assets turns the files into a C
# table (struct gw_asset, gateway/static.h) that gateway/static.c serves.
# Included after gateway/module.mk (the top Makefile sorts the fragments), so
# the object can be added to $(GW_LIB) here: the archive's recipe archives
# $^, which collects the prerequisites of every rule for that target.

GW_WEB_FILES := $(sort $(wildcard gateway/web/*.html gateway/web/*.js gateway/web/*.css \
                                  gateway/web/*.svg))
GW_WEB_SRC   := $(BUILD)/gen/gateway/web_assets.c
GW_WEB_OBJS  := $(BUILD)/gen/gateway/web_assets.o

$(GW_WEB_SRC): $(GW_WEB_FILES) scripts/gen-web-assets gateway/web/module.mk
	@mkdir -p $(@D)
	$(PYTHON) scripts/gen-web-assets --out $@ $(GW_WEB_FILES)

# -I. because the generated file lives under $(BUILD) and includes
# "gateway/static.h" by its path from the repository root.
$(GW_WEB_OBJS): $(GW_WEB_SRC)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -I. $(CFLAGS) -c $< -o $@

$(GW_LIB): $(GW_WEB_OBJS)

ALL_OBJS += $(GW_WEB_OBJS)
