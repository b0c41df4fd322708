/* Connection upgrades (WebSocket): the 101 answer, and handing the socket
 * over to the daemon until it closes the upgraded connection. */
#include "http_internal.h"

#include <errno.h>

/* MHD's handle is the upgraded connection; ours only renames it. */
static struct MHD_UpgradeResponseHandle *urh_of(struct dai_http_upgraded *up)
{
    return (struct MHD_UpgradeResponseHandle *)(void *)up;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
                       const char *extra_in, size_t extra_in_size, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh)
{
    struct dai_http_request *req = cls;

    (void)conn;
    (void)con_cls;
    req->upgrade_fn(req->upgrade_ud, sock, extra_in, extra_in_size,
                    (struct dai_http_upgraded *)(void *)urh);
}

int dai_http_upgrade(struct dai_http_request *req, const struct dai_http_header *hdrs,
                     size_t n_hdrs, dai_http_upgrade_fn fn, void *ud)
{
    struct MHD_Response *resp;
    int rc;

    if (!req || !fn)
        return DAI_EINVAL;
    /* The request outlives the upgrade callback (on_complete runs after it). */
    req->upgrade_fn = fn;
    req->upgrade_ud = ud;
    resp = MHD_create_response_for_upgrade(on_upgrade, req);
    if (!resp)
        return -ENOMEM;
    for (size_t i = 0; i < n_hdrs; i++) {
        if (MHD_add_response_header(resp, hdrs[i].name, hdrs[i].value) != MHD_YES) {
            MHD_destroy_response(resp);
            return -ENOMEM;
        }
    }
    rc = dai__http_queue_response(req, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    MHD_destroy_response(resp);
    return rc;
}

int dai_http_upgraded_close(struct dai_http_upgraded *up)
{
    if (!up)
        return DAI_EINVAL;
    return MHD_upgrade_action(urh_of(up), MHD_UPGRADE_ACTION_CLOSE) == MHD_YES ? 0 : DAI_EINVAL;
}
