package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.weaseldb.testing.RawHttp;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A request target's percent-escapes and characters at the edges of what is accepted (docs/api.md):
 * every hex digit, either case, decodes; the characters just outside each range of hex digits are a
 * malformed escape, answered 400 in its turn on a connection that goes on serving; so is a raw
 * DEL, the first byte past printable ASCII. Seen through {@code /v1/status}, which names the id it
 * decoded to the backend (a real server bans it).
 */
class RequestTargetEscapesTest extends PipelineFixture {
    private static final String ID = "a".repeat(24);

    /** Asks about {@code ID + suffix} (raw), then the version: the connection must still serve. */
    private List<String> askThenVersion(String suffix) {
        send(RawHttp.get("/v1/status?request_id=" + ID + suffix) + RawHttp.get("/v1/version"));
        return answers();
    }

    @Test
    void escapesOfEveryEdgeHexDigitDecode() {
        // 0 9 a f A F, each as the first and the second digit of an escape, all of valid UTF-8
        String[][] cases = {
            {"%30%39", "09"},
            {"%0A%09", "\n\t"},
            {"%c3%a9", "\u00e9"},
            {"%C3%A9", "\u00e9"},
            {"%f0%9f%98%80", "\ud83d\ude00"},
            {"%F0%9F%98%80", "\ud83d\ude00"},
            {"%3a%3A%2f%2F", "::" + "//"},
        };
        for (String[] c : cases) {
            backend.statusAsked.clear();
            List<String> answers = askThenVersion(c[0]);
            assertEquals(List.of(ID + c[1]), backend.statusAsked, c[0] + ": " + answers);
            assertEquals(List.of(503, 200), statuses(answers), c[0] + ": " + answers);
        }
    }

    @Test
    void aCharacterJustOutsideTheHexDigitsIsAMalformedEscapeAnsweredInItsTurn() {
        // neighbours of 0-9, a-f and A-F: '/' ':' '`' 'g' '@' 'G', as either digit
        for (char c : new char[] {'/', ':', '`', 'g', '@', 'G'}) {
            for (String escape : new String[] {"%" + c + "1", "%4" + c}) {
                List<String> answers = askThenVersion(escape);
                assertEquals(List.of(400, 200), statuses(answers), escape + ": " + answers);
                assertTrue(answers.get(0).contains("malformed percent-escape"), escape + ": " + answers.get(0));
                assertTrue(channel.isActive(), escape);
            }
        }
        assertEquals(List.of(), backend.statusAsked, "no id asked about");
    }

    @Test
    void aRawDelInTheTargetIsRefusedAndTildeIsNot() {
        List<String> answers = askThenVersion("\u007f");
        assertEquals(List.of(400, 200), statuses(answers), answers.toString());
        assertTrue(answers.get(0).contains("printable ASCII"), answers.get(0));
        assertEquals(List.of(), backend.statusAsked);

        answers = askThenVersion("~!");
        assertEquals(List.of(503, 200), statuses(answers), answers.toString());
        assertEquals(List.of(ID + "~!"), backend.statusAsked);
    }

    /** Raw ASCII between escapes counts in the UTF-8 check: C3 'a' A9 is not UTF-8, though C3 A9 is (é). */
    @Test
    void escapesSplitByARawCharacterAreNotValidUtf8() {
        List<String> answers = askThenVersion("%C3a%A9");
        assertEquals(List.of(400, 200), statuses(answers), answers.toString());
        assertTrue(answers.get(0).contains("valid UTF-8"), answers.get(0));
        assertEquals(List.of(), backend.statusAsked);
    }

    /** A target that starts with a malformed escape (not origin-form: its first character is checked too). */
    @Test
    void aTargetStartingWithAMalformedEscapeIsAnswered400() {
        for (String target : new String[] {"%zz", "%zz%41", "%4"}) {
            send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n" + RawHttp.get("/v1/version"));
            List<String> answers = answers();
            assertEquals(List.of(400, 200), statuses(answers), target + ": " + answers);
            assertTrue(answers.get(0).contains("malformed percent-escape"), target + ": " + answers.get(0));
        }
    }

    /** An absolute-form target with nothing after its authority asks for the path "/" (RFC 9112 3.2.2). */
    @Test
    void anAbsoluteTargetWithoutAPathIsRoutedAsTheRoot() {
        for (String target : new String[] {"http://x", "https://127.0.0.1:8080"}) {
            send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n" + RawHttp.get("/v1/version"));
            List<String> answers = answers();
            assertEquals(List.of(404, 200), statuses(answers), target + ": " + answers);
            assertTrue(answers.get(0).contains("no such endpoint: GET /\""), target + ": " + answers.get(0));
        }
    }
}
