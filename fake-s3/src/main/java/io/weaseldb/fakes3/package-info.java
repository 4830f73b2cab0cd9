/**
 * WeaselDB's fake S3: a small S3-compatible HTTP server (path-style, SigV4, aws-chunked uploads,
 * conditional writes) with durable storage and fault injection. See {@code docs/fake-s3.md}.
 *
 * <h2>Layers</h2>
 * <ol>
 *   <li>Storage, free of Netty and HTTP so that deterministic simulations use it directly:
 *       {@link io.weaseldb.fakes3.ObjectBackend}, {@link io.weaseldb.fakes3.MemoryBackend},
 *       {@link io.weaseldb.fakes3.DirectoryBackend} and their value types.</li>
 *   <li>Faults, also Netty-free: {@link io.weaseldb.fakes3.FaultRule},
 *       {@link io.weaseldb.fakes3.FaultKind}, {@link io.weaseldb.fakes3.FaultInjector}.</li>
 *   <li>S3 semantics, Netty-free: {@code S3Operations} executes a parsed {@code S3Request} and
 *       verifies bodies; {@code S3Response} is the answer.</li>
 *   <li>HTTP, the only Netty users: {@link io.weaseldb.fakes3.FakeS3Server} (bootstrap),
 *       {@code S3RequestHandler} (per-connection state machine), {@code RequestParser} (head to
 *       request, SigV4 via {@code SigV4Verifier}), {@code RequestBodyReader} (aws-chunked).</li>
 * </ol>
 * {@code NettyFreeLayersTest} enforces that layers 1 to 3 do not import Netty.
 *
 * <h2>Threads</h2>
 * Event loops own connections: they parse, authenticate, decide faults and collect bodies, and
 * never block. A bounded worker pool verifies bodies and calls the backend; results are handed
 * back to the connection's event loop. Backends and the fault injector are thread-safe.
 */
package io.weaseldb.fakes3;
