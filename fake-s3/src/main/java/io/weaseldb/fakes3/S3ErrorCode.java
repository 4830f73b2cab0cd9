package io.weaseldb.fakes3;

/** The S3 error codes this server answers with, their HTTP status and S3's usual message. */
enum S3ErrorCode {
    ACCESS_DENIED(403, "AccessDenied", "Access Denied"),
    AUTHORIZATION_HEADER_MALFORMED(400, "AuthorizationHeaderMalformed", "The authorization header is malformed."),
    BAD_DIGEST(400, "BadDigest", "The Content-MD5 or checksum value that you specified did not match what the server received."),
    BUCKET_ALREADY_OWNED_BY_YOU(409, "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it."),
    BUCKET_NOT_EMPTY(409, "BucketNotEmpty", "The bucket you tried to delete is not empty"),
    ENTITY_TOO_LARGE(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."),
    INCOMPLETE_BODY(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header"),
    INTERNAL_ERROR(500, "InternalError", "We encountered an internal error. Please try again."),
    INVALID_ACCESS_KEY_ID(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."),
    INVALID_ARGUMENT(400, "InvalidArgument", "Invalid Argument"),
    INVALID_BUCKET_NAME(400, "InvalidBucketName", "The specified bucket is not valid."),
    INVALID_DIGEST(400, "InvalidDigest", "The Content-MD5 you specified was invalid."),
    INVALID_RANGE(416, "InvalidRange", "The requested range is not satisfiable"),
    INVALID_REQUEST(400, "InvalidRequest", "Invalid Request"),
    INVALID_URI(400, "InvalidURI", "Couldn't parse the specified URI."),
    KEY_TOO_LONG(400, "KeyTooLongError", "Your key is too long"),
    MALFORMED_TRAILER(400, "MalformedTrailerError",
            "The request contained trailing data that was not well-formed or did not conform to our published schema."),
    MALFORMED_XML(400, "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema"),
    METADATA_TOO_LARGE(400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size."),
    METHOD_NOT_ALLOWED(405, "MethodNotAllowed", "The specified method is not allowed against this resource."),
    MISSING_CONTENT_LENGTH(411, "MissingContentLength", "You must provide the Content-Length HTTP header."),
    NO_SUCH_BUCKET(404, "NoSuchBucket", "The specified bucket does not exist"),
    NO_SUCH_KEY(404, "NoSuchKey", "The specified key does not exist."),
    NOT_IMPLEMENTED(501, "NotImplemented", "A header you provided implies functionality that is not implemented"),
    PRECONDITION_FAILED(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"),
    REQUEST_HEADER_SECTION_TOO_LARGE(400, "RequestHeaderSectionTooLarge",
            "Your request header section exceeds the maximum allowed size."),
    REQUEST_TIMEOUT(400, "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the timeout period."),
    REQUEST_TIME_TOO_SKEWED(403, "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large."),
    SIGNATURE_DOES_NOT_MATCH(403, "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."),
    SLOW_DOWN(503, "SlowDown", "Please reduce your request rate."),
    X_AMZ_CONTENT_SHA256_MISMATCH(400, "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.");

    final int status;
    final String code;
    final String defaultMessage;

    S3ErrorCode(int status, String code, String defaultMessage) {
        this.status = status;
        this.code = code;
        this.defaultMessage = defaultMessage;
    }
}
