// expat (Debian's libexpat1), the S3 backend's XML parser, loaded the first time a response is
// parsed rather than when the program starts: only the S3 backend reads XML, and an
// archive_command to a local repository starts once per WAL segment and never does.
//
// Contract (util/shared_library.hpp): only storage/s3/s3_xml.cpp includes this header, never
// <expat.h> itself, and calls expat's functions by their own names, each named below as a macro
// for a pointer looked up once at its first call. A function used without being named here is an
// undefined reference at link time (the programs do not link libexpat).
#pragma once

#include <expat.h>

#include "util/error.hpp"
#include "util/shared_library.hpp"

namespace lifeboat::s3::expat_library {

const SharedLibrary& library();

// Loads expat if it is not loaded yet: ErrorCode::io naming it when it cannot be.
inline Status load() {
    return library().load();
}

}  // namespace lifeboat::s3::expat_library

#define LB_EXPAT_FUNCTION(fn) \
    LB_SHARED_LIBRARY_FUNCTION(::lifeboat::s3::expat_library::library(), fn)

// Every expat function the programs call (sorted).
#define XML_ErrorString LB_EXPAT_FUNCTION(XML_ErrorString)
#define XML_GetCurrentColumnNumber LB_EXPAT_FUNCTION(XML_GetCurrentColumnNumber)
#define XML_GetCurrentLineNumber LB_EXPAT_FUNCTION(XML_GetCurrentLineNumber)
#define XML_GetErrorCode LB_EXPAT_FUNCTION(XML_GetErrorCode)
#define XML_Parse LB_EXPAT_FUNCTION(XML_Parse)
#define XML_ParserCreate LB_EXPAT_FUNCTION(XML_ParserCreate)
#define XML_ParserFree LB_EXPAT_FUNCTION(XML_ParserFree)
#define XML_SetCharacterDataHandler LB_EXPAT_FUNCTION(XML_SetCharacterDataHandler)
#define XML_SetElementHandler LB_EXPAT_FUNCTION(XML_SetElementHandler)
#define XML_SetStartDoctypeDeclHandler LB_EXPAT_FUNCTION(XML_SetStartDoctypeDeclHandler)
#define XML_SetUserData LB_EXPAT_FUNCTION(XML_SetUserData)
#define XML_StopParser LB_EXPAT_FUNCTION(XML_StopParser)
