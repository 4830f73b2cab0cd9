package io.weaseldb;

/** Runs the fake S3 standalone ({@code java -jar weaseldb.jar fake-s3 ...}). PLACEHOLDER until fake-s3 lands. */
final class FakeS3Launcher {
    private FakeS3Launcher() {}

    static int run(String[] args) {
        System.err.println("fake-s3 is not available in this build yet");
        return 1;
    }
}
