package io.weaseldb.fakes3;

import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.List;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;

/**
 * Parses the body of DeleteObjects:
 * {@code <Delete><Object><Key>k</Key></Object>...<Quiet>true</Quiet></Delete>}. Strict: unknown
 * elements, missing keys, more than 1000 objects and DTDs are MalformedXML; versioned deletes are
 * not implemented.
 */
final class DeleteRequestXml {
    static final int MAX_OBJECTS = 1000;

    private static final XMLInputFactory FACTORY = newFactory();

    record Parsed(List<String> keys, boolean quiet) {}

    private DeleteRequestXml() {}

    private static XMLInputFactory newFactory() {
        XMLInputFactory f = XMLInputFactory.newFactory();
        // No DTDs, no external entities: the body is untrusted.
        f.setProperty(XMLInputFactory.SUPPORT_DTD, false);
        f.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
        f.setProperty(XMLInputFactory.IS_NAMESPACE_AWARE, true);
        f.setProperty(XMLInputFactory.IS_COALESCING, true);
        return f;
    }

    /** @throws S3ErrorException MalformedXML or NotImplemented */
    static Parsed parse(byte[] body) {
        try {
            XMLStreamReader r;
            synchronized (FACTORY) {
                // XMLInputFactory is not documented as thread-safe for creating readers.
                r = FACTORY.createXMLStreamReader(new ByteArrayInputStream(body));
            }
            try {
                return parse(r);
            } finally {
                r.close();
            }
        } catch (XMLStreamException e) {
            throw malformed();
        }
    }

    private static Parsed parse(XMLStreamReader r) throws XMLStreamException {
        nextElement(r);
        if (!r.getLocalName().equals("Delete")) {
            throw malformed();
        }
        List<String> keys = new ArrayList<>();
        boolean quiet = false;
        while (nextChildOrEnd(r)) {
            switch (r.getLocalName()) {
                case "Quiet" -> {
                    String v = r.getElementText().trim();
                    if (!v.equals("true") && !v.equals("false")) {
                        throw malformed();
                    }
                    quiet = v.equals("true");
                }
                case "Object" -> {
                    String key = null;
                    while (nextChildOrEnd(r)) {
                        switch (r.getLocalName()) {
                            case "Key" -> {
                                if (key != null) {
                                    throw malformed();
                                }
                                key = r.getElementText();
                            }
                            case "VersionId" -> throw new S3ErrorException(S3ErrorCode.NOT_IMPLEMENTED,
                                    "Versioned deletes are not implemented");
                            case "ETag", "LastModifiedTime", "Size" -> throw new S3ErrorException(
                                    S3ErrorCode.NOT_IMPLEMENTED, "Conditional deletes are not implemented");
                            default -> throw malformed();
                        }
                    }
                    if (key == null || key.isEmpty()) {
                        throw malformed();
                    }
                    if (keys.size() == MAX_OBJECTS) {
                        throw malformed();
                    }
                    keys.add(key);
                }
                default -> throw malformed();
            }
        }
        if (keys.isEmpty()) {
            throw malformed();
        }
        return new Parsed(keys, quiet);
    }

    /** Advances to the next start element (document start). */
    private static void nextElement(XMLStreamReader r) throws XMLStreamException {
        while (r.hasNext()) {
            int e = r.next();
            if (e == XMLStreamConstants.START_ELEMENT) {
                return;
            }
            if (e == XMLStreamConstants.DTD) {
                throw malformed();
            }
        }
        throw malformed();
    }

    /** Advances to the next child start element (true) or the parent's end element (false). */
    private static boolean nextChildOrEnd(XMLStreamReader r) throws XMLStreamException {
        while (r.hasNext()) {
            int e = r.next();
            switch (e) {
                case XMLStreamConstants.START_ELEMENT -> {
                    return true;
                }
                case XMLStreamConstants.END_ELEMENT -> {
                    return false;
                }
                case XMLStreamConstants.CHARACTERS, XMLStreamConstants.SPACE -> {
                    if (!r.isWhiteSpace()) {
                        throw malformed();
                    }
                }
                case XMLStreamConstants.COMMENT, XMLStreamConstants.PROCESSING_INSTRUCTION -> { }
                default -> throw malformed();
            }
        }
        throw malformed();
    }

    private static S3ErrorException malformed() {
        return new S3ErrorException(S3ErrorCode.MALFORMED_XML);
    }
}
