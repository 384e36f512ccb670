/* lib/error.c: status codes and the library version. The enum, the names and
 * the sentences all come from CFUT_STATUS_MAP in include/cfut/error.h. */
#include "internal.h"

static const char *const messages[] = {
#define XX(name, text) text,
    CFUT_STATUS_MAP(XX)
#undef XX
};

static const char *const names[] = {
#define XX(name, text) "CFUT_" #name,
    CFUT_STATUS_MAP(XX)
#undef XX
};

const char *cfut_strerror(int status)
{
    if (status < 0 || status >= CFUT_STATUS_COUNT_)
        return "unknown cfut status";
    return messages[status];
}

const char *cfut_status_name(int status)
{
    if (status < 0 || status >= CFUT_STATUS_COUNT_)
        return "CFUT_UNKNOWN";
    return names[status];
}

const char *cfut_version_string(void)
{
    return CFUT_VERSION_STRING;
}

unsigned cfut_version(void)
{
    return CFUT_VERSION_HEX;
}
