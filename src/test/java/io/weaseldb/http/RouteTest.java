package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.netty.handler.codec.http.HttpMethod;
import org.junit.jupiter.api.Test;

/** Which endpoint a request line reaches, and the Allow header of a 405. */
class RouteTest {
    @Test
    void aPolicyIsReadWrittenAndDeletedAndNothingElse() {
        for (HttpMethod m : new HttpMethod[] {HttpMethod.GET, HttpMethod.PUT, HttpMethod.DELETE}) {
            Route r = Route.of(m, "/v1/retention/nightly");
            assertEquals(new Route(Endpoint.RETENTION_POLICY, "nightly", null), r, m.name());
        }
        for (HttpMethod m : new HttpMethod[] {HttpMethod.POST, HttpMethod.PATCH, HttpMethod.HEAD}) {
            assertEquals(new Route(Endpoint.RETENTION_POLICY, "nightly", "GET, PUT, DELETE"), Route.of(m, "/v1/retention/nightly"),
                    m.name());
        }
    }

    @Test
    void aFixedPathAllowsItsOneMethod() {
        assertEquals(new Route(Endpoint.COMMIT, null, null), Route.of(HttpMethod.POST, "/v1/commit"));
        assertEquals(new Route(Endpoint.COMMIT, null, "POST"), Route.of(HttpMethod.GET, "/v1/commit"));
        assertEquals(new Route(Endpoint.RETENTION_LIST, null, "GET"), Route.of(HttpMethod.DELETE, "/v1/retention/"));
        assertEquals(Endpoint.UNKNOWN, Route.of(HttpMethod.GET, "/v1/retentions").endpoint());
        assertNull(Route.of(HttpMethod.GET, "/v1/retentions").allow());
    }
}
