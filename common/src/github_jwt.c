/* The GitHub App's JSON Web Token: RS256 over base64url(header).base64url
 * (claims) with OpenSSL, and loading the App's PEM private key. Pure apart
 * from reading the key file; the client decides when a JWT is needed. */
#include <dispatchai/github.h>

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

/* base64url without padding of in[0..n) into out (room for 4*ceil(n/3)+1). */
static size_t b64url(const unsigned char *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (int i = 0; i < len; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return (size_t)len;
}

static bool app_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > 64)
        return false;
    /* App ids are numbers, client ids "Iv1.…" — neither needs JSON escaping. */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == '-' || c == '_'))
            return false;
    }
    return true;
}

int dai_github_jwt(const char *app_id, EVP_PKEY *key, long long now_s, char *out, size_t n)
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    char claims[160];
    unsigned char sig[1024];
    size_t siglen = sizeof(sig), len;
    EVP_MD_CTX *md = NULL;
    int clen, rc = DAI_EINVAL;

    if (!key || !app_id_valid(app_id) || EVP_PKEY_base_id(key) != EVP_PKEY_RSA)
        return DAI_EINVAL;
    clen = snprintf(claims, sizeof(claims), "{\"iat\":%lld,\"exp\":%lld,\"iss\":\"%s\"}",
                    now_s - 60, now_s + 540, app_id);
    if (clen < 0 || (size_t)clen >= sizeof(claims))
        return DAI_EINVAL;
    /* Both encoded parts, the dots and the signature must fit. */
    if (n < 4 * ((sizeof(header) + (size_t)clen + (size_t)EVP_PKEY_get_size(key)) / 3 + 3) + 4)
        return DAI_ETOOBIG;
    len = b64url((const unsigned char *)header, sizeof(header) - 1, out);
    out[len++] = '.';
    len += b64url((const unsigned char *)claims, (size_t)clen, out + len);
    md = EVP_MD_CTX_new();
    if (!md)
        return -ENOMEM;
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out, len) != 1)
        goto done;
    out[len++] = '.';
    b64url(sig, siglen, out + len);
    rc = 0;
done:
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return rc;
}

/* An encrypted key is refused instead of prompting on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

EVP_PKEY *dai_github_key_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *key;

    if (!f) {
        snprintf(err, errlen, "cannot open the App private key %s: %s", path, strerror(errno));
        return NULL;
    }
    key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    fclose(f);
    ERR_clear_error();
    if (!key) {
        snprintf(err, errlen, "%s is not a PEM private key", path);
        return NULL;
    }
    if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
        snprintf(err, errlen, "%s is not an RSA key (GitHub App keys are RSA)", path);
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}
