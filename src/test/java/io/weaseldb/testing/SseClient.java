package io.weaseldb.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A Server-Sent Events client over a plain socket (HTTP/1.1, chunked), parsing events the way
 * EventSource does, on its own thread. Events and the end of the stream arrive on a queue.
 */
public final class SseClient implements AutoCloseable {
    /** One event; {@code type} is "transaction" or "checkpoint"; END marks the end of the stream. */
    public record Event(String type, String id, String data) {
        public Map<String, Object> json() {
            return Json.object(data);
        }

        public long version() {
            Map<String, Object> j = json();
            return (Long) (j.containsKey("version") ? j.get("version") : j.get("committed_version"));
        }
    }

    public static final Event END = new Event("end", null, null);

    private final Socket socket;
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final Thread reader;
    private volatile int status;
    private volatile String statusBody;
    private volatile int keepalives;
    /** When each keepalive comment arrived ({@link System#nanoTime()}). */
    private final List<Long> keepaliveNanos = new java.util.concurrent.CopyOnWriteArrayList<>();

    private final java.util.function.Consumer<Event> sink;

    private SseClient(Socket socket, java.util.function.Consumer<Event> sink) {
        this.socket = socket;
        this.sink = sink != null ? sink : events::add;
        // a virtual thread when events go to a sink: tests open a thousand of these
        this.reader = sink != null ? Thread.ofVirtual().name("sse-client").unstarted(this::read)
                : new Thread(this::read, "sse-client");
        this.reader.setDaemon(true);
    }

    /** Opens {@code path} (e.g. "/v1/subscribe?after=0") with optional extra header lines. */
    public static SseClient open(int port, String path, String... headers) throws IOException {
        return open(port, path, null, headers);
    }

    /**
     * Like {@link #open(int, String, String...)}, but hands each event (and finally {@link #END})
     * to {@code sink} on the reading thread instead of queueing it for {@link #next}.
     */
    public static SseClient open(int port, String path, java.util.function.Consumer<Event> sink, String... headers)
            throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(0);
        StringBuilder req = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n");
        for (String h : headers) {
            req.append(h).append("\r\n");
        }
        req.append("\r\n");
        s.getOutputStream().write(req.toString().getBytes(StandardCharsets.US_ASCII));
        SseClient c = new SseClient(s, sink);
        c.reader.start();
        return c;
    }

    /** Opens with a small receive buffer and never reads: a subscriber that stops reading. */
    public static Socket openStalled(int port, String path) throws IOException {
        Socket s = new Socket();
        s.setReceiveBufferSize(4096);
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        return s;
    }

    private void read() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8))) {
            String statusLine = in.readLine();
            status = Integer.parseInt(statusLine.split(" ")[1]);
            boolean chunked = false;
            int length = 0;
            String line;
            while (!(line = in.readLine()).isEmpty()) {
                String l = line.toLowerCase(java.util.Locale.ROOT);
                chunked |= l.startsWith("transfer-encoding:") && l.contains("chunked");
                if (l.startsWith("content-length:")) {
                    length = Integer.parseInt(l.substring(15).trim());
                }
            }
            if (status != 200) {
                char[] body = new char[length];
                int n = 0;
                while (n < length) {
                    int r = in.read(body, n, length - n);
                    if (r < 0) {
                        break;
                    }
                    n += r;
                }
                statusBody = new String(body, 0, n);
                return;
            }
            // Undo chunked framing into a plain character stream, then parse SSE lines.
            StringBuilder pending = new StringBuilder();
            String type = null;
            String id = null;
            StringBuilder data = null;
            while (true) {
                String text;
                if (chunked) {
                    String size = in.readLine();
                    if (size == null) {
                        return;
                    }
                    int n = Integer.parseInt(size.trim(), 16);
                    if (n == 0) {
                        return;
                    }
                    char[] buf = new char[n];
                    int got = 0;
                    while (got < n) {
                        int r = in.read(buf, got, n - got);
                        if (r < 0) {
                            return;
                        }
                        got += r;
                    }
                    in.readLine(); // CRLF after the chunk
                    text = new String(buf);
                } else {
                    String l = in.readLine();
                    if (l == null) {
                        return;
                    }
                    text = l + "\n";
                }
                pending.append(text);
                int nl;
                while ((nl = pending.indexOf("\n")) >= 0) {
                    String l = pending.substring(0, nl);
                    pending.delete(0, nl + 1);
                    if (l.isEmpty()) {
                        if (data != null) {
                            sink.accept(new Event(type == null ? "message" : type, id, data.toString()));
                        }
                        type = null;
                        data = null;
                    } else if (l.startsWith(":")) {
                        keepaliveNanos.add(System.nanoTime());
                        keepalives++;
                    } else if (l.startsWith("event: ")) {
                        type = l.substring(7);
                    } else if (l.startsWith("id: ")) {
                        id = l.substring(4);
                    } else if (l.startsWith("data: ")) {
                        data = data == null ? new StringBuilder(l.substring(6)) : data.append('\n').append(l.substring(6));
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // the stream ended
        } finally {
            sink.accept(END);
        }
    }

    /** The next event, or null if none arrives in time; END once the stream has ended. */
    public Event next(long timeoutMs) throws InterruptedException {
        return events.poll(timeoutMs, TimeUnit.MILLISECONDS);
    }

    /** The next transaction event, skipping checkpoints; END at the end, null on timeout. */
    public Event nextTransaction(long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000;
        while (true) {
            Event e = next(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            if (e == null || e == END || e.type().equals("transaction")) {
                return e;
            }
        }
    }

    /** HTTP status of the response (0 until the head arrived). */
    public int status() {
        return status;
    }

    public String statusBody() {
        return statusBody;
    }

    public int keepalives() {
        return keepalives;
    }

    /** Arrival times of the keepalive comments so far ({@link System#nanoTime()}). */
    public List<Long> keepaliveNanos() {
        return List.copyOf(keepaliveNanos);
    }

    /** The client side's port, to tell streams apart in server logs. */
    public int localPort() {
        return socket.getLocalPort();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
