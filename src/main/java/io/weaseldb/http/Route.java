package io.weaseldb.http;

import io.netty.handler.codec.http.HttpMethod;

/**
 * The result of routing a request line. {@code param} is the path parameter (policy id) when the
 * endpoint has one. {@code allow} is set when the path exists but not for this method (405).
 */
record Route(Endpoint endpoint, String param, String allow) {

    static Route of(HttpMethod method, String path) {
        switch (path) {
            case "/v1/version":
                return method(method, Endpoint.VERSION, "GET");
            case "/v1/commit":
                return method(method, Endpoint.COMMIT, "POST");
            case "/v1/status":
                return method(method, Endpoint.STATUS, "GET");
            case "/v1/subscribe":
                return method(method, Endpoint.SUBSCRIBE, "GET");
            case "/v1/retention", "/v1/retention/":
                return method(method, Endpoint.RETENTION_LIST, "GET");
            case "/metrics":
                return method(method, Endpoint.METRICS, "GET");
            case "/ok":
                return method(method, Endpoint.OK, "GET");
            default:
                break;
        }
        if (path.startsWith("/v1/retention/")) {
            String id = path.substring("/v1/retention/".length());
            Route r = method(method, Endpoint.RETENTION_POLICY, "GET, PUT, DELETE");
            return new Route(r.endpoint, id, r.allow);
        }
        return new Route(Endpoint.UNKNOWN, null, null);
    }

    private static Route method(HttpMethod method, Endpoint endpoint, String allow) {
        String name = method.name();
        for (String m : allow.split(", ")) {
            if (m.equals(name)) {
                return new Route(endpoint, null, null);
            }
        }
        return new Route(endpoint, null, allow);
    }
}
