package io.weaseldb.log;

/** A log object that fails validation (bad magic, CRC, lengths or versions). */
public final class CorruptBatchException extends Exception {
    public CorruptBatchException(String objectKey, String message) {
        super(objectKey + ": " + message);
    }
}
