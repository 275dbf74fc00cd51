// libpq (Debian's libpq5), loaded the first time one of its functions is called rather than when
// the program starts: libpq and what it alone brings (GnuTLS, p11-kit, Kerberos, LDAP, SASL,
// libunistring, nettle, GMP: twenty libraries, about 9 MiB) would otherwise be read, mapped and
// relocated by every start, including those that never connect to PostgreSQL (restore without
// --start, wal-fetch, wal-push, list, verify, copy, expire).
//
// Contract (util/shared_library.hpp): code that calls libpq includes this header, never
// <libpq-fe.h> itself, and calls libpq's functions by their own names, each named below as a
// macro for a pointer looked up once at its first call. A function used without being named here
// is an undefined reference at link time (the programs do not link libpq).
#pragma once

#include <libpq-fe.h>

#include "util/error.hpp"
#include "util/shared_library.hpp"

namespace lifeboat::postgres::libpq {

const SharedLibrary& library();

// Loads libpq if it is not loaded yet: ErrorCode::io naming it when it cannot be.
inline Status load() {
    return library().load();
}

}  // namespace lifeboat::postgres::libpq

#define LB_PQ_FUNCTION(fn) LB_SHARED_LIBRARY_FUNCTION(::lifeboat::postgres::libpq::library(), fn)

// Every libpq function the programs and tests call (sorted).
#define PQclear LB_PQ_FUNCTION(PQclear)
#define PQconnectPoll LB_PQ_FUNCTION(PQconnectPoll)
#define PQconnectStart LB_PQ_FUNCTION(PQconnectStart)
#define PQconninfo LB_PQ_FUNCTION(PQconninfo)
#define PQconninfoFree LB_PQ_FUNCTION(PQconninfoFree)
#define PQconninfoParse LB_PQ_FUNCTION(PQconninfoParse)
#define PQconsumeInput LB_PQ_FUNCTION(PQconsumeInput)
#define PQdb LB_PQ_FUNCTION(PQdb)
#define PQenterPipelineMode LB_PQ_FUNCTION(PQenterPipelineMode)
#define PQerrorMessage LB_PQ_FUNCTION(PQerrorMessage)
#define PQescapeIdentifier LB_PQ_FUNCTION(PQescapeIdentifier)
#define PQescapeLiteral LB_PQ_FUNCTION(PQescapeLiteral)
#define PQexec LB_PQ_FUNCTION(PQexec)
#define PQexitPipelineMode LB_PQ_FUNCTION(PQexitPipelineMode)
#define PQfinish LB_PQ_FUNCTION(PQfinish)
#define PQflush LB_PQ_FUNCTION(PQflush)
#define PQfname LB_PQ_FUNCTION(PQfname)
#define PQfreemem LB_PQ_FUNCTION(PQfreemem)
#define PQgetCopyData LB_PQ_FUNCTION(PQgetCopyData)
#define PQgetResult LB_PQ_FUNCTION(PQgetResult)
#define PQgetisnull LB_PQ_FUNCTION(PQgetisnull)
#define PQgetlength LB_PQ_FUNCTION(PQgetlength)
#define PQgetvalue LB_PQ_FUNCTION(PQgetvalue)
#define PQhost LB_PQ_FUNCTION(PQhost)
#define PQisBusy LB_PQ_FUNCTION(PQisBusy)
#define PQnfields LB_PQ_FUNCTION(PQnfields)
#define PQntuples LB_PQ_FUNCTION(PQntuples)
#define PQpipelineSync LB_PQ_FUNCTION(PQpipelineSync)
#define PQport LB_PQ_FUNCTION(PQport)
#define PQputCopyData LB_PQ_FUNCTION(PQputCopyData)
#define PQputCopyEnd LB_PQ_FUNCTION(PQputCopyEnd)
#define PQresultErrorMessage LB_PQ_FUNCTION(PQresultErrorMessage)
#define PQresultStatus LB_PQ_FUNCTION(PQresultStatus)
#define PQsendPrepare LB_PQ_FUNCTION(PQsendPrepare)
#define PQsendQuery LB_PQ_FUNCTION(PQsendQuery)
#define PQsendQueryParams LB_PQ_FUNCTION(PQsendQueryParams)
#define PQsendQueryPrepared LB_PQ_FUNCTION(PQsendQueryPrepared)
#define PQserverVersion LB_PQ_FUNCTION(PQserverVersion)
#define PQsetNoticeProcessor LB_PQ_FUNCTION(PQsetNoticeProcessor)
#define PQsocket LB_PQ_FUNCTION(PQsocket)
#define PQstatus LB_PQ_FUNCTION(PQstatus)
