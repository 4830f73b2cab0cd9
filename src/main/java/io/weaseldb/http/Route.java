package io.weaseldb.http;

import io.netty.handler.codec.http.HttpMethod;

/**
 * The result of routing a request line. {@code param} is the path parameter (policy id) when the
 * endpoint has one. {@code allow} is set when the path exists but not for this method (405).
 * Routing a request to a fixed path allocates nothing: those routes are constants.
 */
record Route(Endpoint endpoint, String param, String allow) {
    private static final Route UNKNOWN = new Route(Endpoint.UNKNOWN, null, null);

    /** The routes of one fixed path: the match, and the 405 for any other method. */
    private record Fixed(HttpMethod method, Route match, Route notAllowed) {
        Fixed(Endpoint endpoint, HttpMethod method) {
            this(method, new Route(endpoint, null, null), new Route(endpoint, null, method.name()));
        }

        Route of(HttpMethod m) {
            return method.equals(m) ? match : notAllowed;
        }
    }

    private static final Fixed VERSION = new Fixed(Endpoint.VERSION, HttpMethod.GET);
    private static final Fixed COMMIT = new Fixed(Endpoint.COMMIT, HttpMethod.POST);
    private static final Fixed STATUS = new Fixed(Endpoint.STATUS, HttpMethod.GET);
    private static final Fixed SUBSCRIBE = new Fixed(Endpoint.SUBSCRIBE, HttpMethod.GET);
    private static final Fixed RETENTION_LIST = new Fixed(Endpoint.RETENTION_LIST, HttpMethod.GET);
    private static final Fixed METRICS = new Fixed(Endpoint.METRICS, HttpMethod.GET);
    private static final Fixed OK = new Fixed(Endpoint.OK, HttpMethod.GET);
    private static final String POLICY_PREFIX = "/v1/retention/";
    private static final String POLICY_METHODS = "GET, PUT, DELETE";

    static Route of(HttpMethod method, String path) {
        switch (path) {
            case "/v1/version":
                return VERSION.of(method);
            case "/v1/commit":
                return COMMIT.of(method);
            case "/v1/status":
                return STATUS.of(method);
            case "/v1/subscribe":
                return SUBSCRIBE.of(method);
            case "/v1/retention", "/v1/retention/":
                return RETENTION_LIST.of(method);
            case "/metrics":
                return METRICS.of(method);
            case "/ok":
                return OK.of(method);
            default:
                break;
        }
        if (path.startsWith(POLICY_PREFIX)) {
            String id = path.substring(POLICY_PREFIX.length());
            boolean allowed = method.equals(HttpMethod.GET) || method.equals(HttpMethod.PUT) || method.equals(HttpMethod.DELETE);
            return new Route(Endpoint.RETENTION_POLICY, id, allowed ? null : POLICY_METHODS);
        }
        return UNKNOWN;
    }
}
