# mk/flags.mk — the compiler and linker flags every rule uses, included by the
# Makefile once our own flags are set.
#
# Ours are DAI_CFLAGS, DAI_CPPFLAGS and DAI_LDFLAGS (a module fragment adds to
# those, or sets a target-specific `CPPFLAGS += ...`). CFLAGS, CPPFLAGS and
# LDFLAGS given by the user or a distribution, on the command line or in the
# environment, come after ours: they can change the optimisation or add
# flags, but `make CFLAGS=-O0` keeps our warnings and -Werror.

# The user's values as first seen, exported so that recursive makes (sanitize,
# fuzz) start from them too and not from the combination below, which make
# would export in their place when they came from the environment.
ifeq ($(origin DAI_USER_CFLAGS),undefined)
export DAI_USER_CFLAGS   := $(CFLAGS)
export DAI_USER_CPPFLAGS := $(CPPFLAGS)
export DAI_USER_LDFLAGS  := $(LDFLAGS)
endif

# Hardening: stack protector, position-independent executables, read-only
# relocations resolved at start.
DAI_CFLAGS  += -fstack-protector-strong -fPIE
DAI_LDFLAGS += -pie -Wl,-z,relro,-z,now

# _FORTIFY_SOURCE needs optimisation (glibc warns without it, and -Werror makes
# that fatal) and gets in the sanitizers' way, so only optimised builds
# without SANFLAGS get it, and only when the user's flags do not set it.
DAI_OPT_LEVEL := $(lastword $(filter -O%,$(OPTFLAGS) $(EXTRA_CFLAGS) $(DAI_USER_CFLAGS)))
ifeq ($(strip $(SANFLAGS))$(filter -O0,$(DAI_OPT_LEVEL))$(findstring _FORTIFY_SOURCE,$(DAI_USER_CPPFLAGS) $(DAI_USER_CFLAGS)),)
ifneq ($(DAI_OPT_LEVEL),)
DAI_CPPFLAGS += -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2
endif
endif

override CFLAGS   = $(DAI_CFLAGS) $(DAI_USER_CFLAGS)
override CPPFLAGS = $(DAI_CPPFLAGS) $(DAI_USER_CPPFLAGS)
override LDFLAGS  = $(DAI_LDFLAGS) $(DAI_USER_LDFLAGS)
