package io.weaseldb.fakes3;

import java.nio.charset.StandardCharsets;

/** Builds the small XML documents S3 answers with. Not thread-safe; one per response. */
final class XmlWriter {
    static final String S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/";

    private final StringBuilder sb = new StringBuilder(256)
            .append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");

    XmlWriter open(String name) {
        sb.append('<').append(name).append('>');
        return this;
    }

    XmlWriter openRoot(String name) {
        sb.append('<').append(name).append(" xmlns=\"").append(S3_NAMESPACE).append("\">");
        return this;
    }

    XmlWriter close(String name) {
        sb.append("</").append(name).append('>');
        return this;
    }

    XmlWriter element(String name, String text) {
        sb.append('<').append(name).append('>');
        escape(text);
        sb.append("</").append(name).append('>');
        return this;
    }

    XmlWriter element(String name, long value) {
        return element(name, Long.toString(value));
    }

    XmlWriter element(String name, boolean value) {
        return element(name, Boolean.toString(value));
    }

    byte[] toBytes() {
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private void escape(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '&' -> sb.append("&amp;");
                case '"' -> sb.append("&quot;");
                case '\'' -> sb.append("&apos;");
                // XML end-of-line handling turns a raw CR (or CRLF) into LF, and attribute-value
                // normalisation turns TAB/LF into spaces, so a parser would see another key. S3
                // writes these as character references too.
                case '\r' -> sb.append("&#13;");
                case '\n' -> sb.append("&#10;");
                case '\t' -> sb.append("&#9;");
                default -> {
                    if (c < 0x20) {
                        // Not representable in XML 1.0 at all; S3 emits a character reference, and
                        // clients that care use encoding-type=url.
                        sb.append("&#x").append(Integer.toHexString(c)).append(';');
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
    }
}
