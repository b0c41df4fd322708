/* The parsed configuration file, shared by the loader (config.c, which reads
 * it) and the structured-section accessors (config_sections.c). Private to
 * common/src. */
#ifndef DISPATCHAI_CONFIG_DOC_H
#define DISPATCHAI_CONFIG_DOC_H

#include <libconfig.h>

struct dai_config_doc {
    config_t cfg;
    char *path;
};

struct dai_config_elem {
    const config_setting_t *s;
    const struct dai_config_doc *doc;
};

#endif
