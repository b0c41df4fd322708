# gateway/writeback/module.mk — write-back to GitHub, a module of the gateway:
# its objects go into the gateway's archive (linked by the binary and the
# unit tests) like every gateway/*.c.

GW_WB_SRCS := $(wildcard gateway/writeback/*.c)
GW_WB_OBJS := $(GW_WB_SRCS:%.c=$(BUILD)/%.o)

$(GW_LIB): $(GW_WB_OBJS)

ALL_OBJS += $(GW_WB_OBJS)
