package io.weaseldb.json;

/** Wording of the JSON library's parse errors for clients. Stateless. */
public final class JsonErrors {
    private static final String[] TAILS = {" (start marker at", " (for ", " at [Source", "\n at [Source", ": enable `",
        "; enable `", " (not recognized as one since Feature"};

    private JsonErrors() {}

    /**
     * Jackson's message without its location, the source description it appends to some, and its
     * hints about its own settings ({@code StreamReadConstraints}, {@code JsonReadFeature}): what
     * is wrong with the body, in terms of the body.
     */
    public static String clean(String message) {
        String m = message.replaceAll(", from `[^`]*`", "");
        int cut = m.length();
        for (String tail : TAILS) {
            int i = m.indexOf(tail);
            if (i >= 0 && i < cut) {
                cut = i;
            }
        }
        return m.substring(0, cut).strip();
    }
}
