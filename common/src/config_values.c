/* Value syntax shared by every configuration source: booleans, sizes with
 * binary units, durations with time units, plain integers and reals, and
 * comma-separated string lists. Pure functions; the loader (config.c)
 * decides which option gets which parser and how errors are reported. */
#include <dispatchai/config.h>

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *trim_left(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static bool rest_blank(const char *s)
{
    return *trim_left(s) == '\0';
}

/*---- value parsers ------------------------------------------------------*/

int dai_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };

    for (size_t i = 0; s && i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return DAI_EINVAL;
}

/* Leading decimal digits of s as an unsigned value; *end after them. */
static int parse_digits(const char *s, unsigned long long *v, const char **end)
{
    char *e;

    s = trim_left(s);
    if (*s < '0' || *s > '9')
        return DAI_EINVAL;
    errno = 0;
    *v = strtoull(s, &e, 10);
    if (errno)
        return DAI_EINVAL;
    *end = trim_left(e);
    return 0;
}

struct unit {
    const char *name; /* matched case-insensitively, "" = no unit */
    unsigned long long mult;
};

/* "<digits><blank><unit>" with the first unit of the table that matches the
 * rest exactly; the value times its multiplier must not exceed max. */
static int parse_with_units(const char *s, const struct unit *units, size_t n_units,
                            unsigned long long max, unsigned long long *out)
{
    unsigned long long v;
    const char *end;

    if (!s || parse_digits(s, &v, &end))
        return DAI_EINVAL;
    for (size_t i = 0; i < n_units; i++) {
        size_t n = strlen(units[i].name);

        if (strncasecmp(end, units[i].name, n) == 0 && rest_blank(end + n)) {
            if (v > max / units[i].mult)
                return DAI_EINVAL;
            *out = v * units[i].mult;
            return 0;
        }
    }
    return DAI_EINVAL;
}

/* Bytes, or binary units only: "k"/"KB" mean 1000 in some tools and 1024 in
 * others, so we accept just the unambiguous KiB/MiB/GiB/TiB. */
int dai_parse_size(const char *s, size_t *out)
{
    static const struct unit units[] = {
        {"", 1}, {"b", 1}, {"kib", 1ull << 10}, {"mib", 1ull << 20},
        {"gib", 1ull << 30}, {"tib", 1ull << 40},
    };
    unsigned long long v;
    int rc = parse_with_units(s, units, sizeof(units) / sizeof(units[0]), SIZE_MAX, &v);

    if (!rc)
        *out = (size_t)v;
    return rc;
}

int dai_parse_ms(const char *s, int *out)
{
    /* "ms" and "min" come before "m" and "s" so the longer unit wins. */
    static const struct unit units[] = {
        {"ms", 1}, {"min", 60000}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"", 1},
    };
    unsigned long long v;
    int rc = parse_with_units(s, units, sizeof(units) / sizeof(units[0]), INT_MAX, &v);

    if (!rc)
        *out = (int)v;
    return rc;
}

int dai_parse_int(const char *s, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || errno || !rest_blank(end) || v < INT_MIN || v > INT_MAX)
        return DAI_EINVAL;
    *out = (int)v;
    return 0;
}

int dai_parse_double(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno || !rest_blank(end) || v != v || v > DBL_MAX || v < -DBL_MAX)
        return DAI_EINVAL;
    *out = v;
    return 0;
}

/*---- string lists ---------------------------------------------------------*/

void dai_strlist_free(struct dai_strlist *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int dai_strlist_push(struct dai_strlist *l, const char *s, size_t len)
{
    char **grown = realloc(l->v, (l->n + 1) * sizeof(*l->v));

    if (!grown)
        return -ENOMEM;
    l->v = grown;
    l->v[l->n] = strndup(s, len);
    if (!l->v[l->n])
        return -ENOMEM;
    l->n++;
    return 0;
}

int dai_strlist_split(const char *csv, char sep, struct dai_strlist *out)
{
    const char *p = csv;

    out->v = NULL;
    out->n = 0;
    while (p && *p) {
        const char *e = strchr(p, sep);
        const char *stop = e ? e : p + strlen(p);
        const char *a = trim_left(p), *b = stop;

        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a && dai_strlist_push(out, a, (size_t)(b - a))) {
            dai_strlist_free(out);
            return -ENOMEM;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}
