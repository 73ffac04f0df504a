#ifndef SILOMERGE_COPENSSL_SHIM_H
#define SILOMERGE_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#endif
