package io.weaseldb.http;

/** The API's endpoints; {@link #label} is the metric label. */
public enum Endpoint {
    VERSION("/v1/version"),
    COMMIT("/v1/commit"),
    STATUS("/v1/status"),
    SUBSCRIBE("/v1/subscribe"),
    RETENTION_LIST("/v1/retention/"),
    RETENTION_POLICY("/v1/retention/{policy_id}"),
    METRICS("/metrics"),
    OK("/ok"),
    UNKNOWN("other");

    public final String label;

    Endpoint(String label) {
        this.label = label;
    }
}
