package io.weaseldb.fakes3;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.function.Function;

/** The ListObjectsV2 page walk shared by both backends, over a key-ordered map. */
final class Listings {
    private Listings() {}

    /**
     * Walks {@code objects} (sorted by {@link KeyOrder}) and builds one page. Safe on a
     * concurrently modified {@link java.util.concurrent.ConcurrentSkipListMap}: the walk is weakly
     * consistent, like S3 listings.
     */
    static <V> ObjectBackend.ListResult.Page page(
            NavigableMap<String, V> objects, Function<V, ObjectInfo> info, ListQuery query) {
        if (query.maxKeys() == 0) {
            // What S3 answers: an empty page that is not truncated (a token here would point at
            // the same empty page again, and paginators would loop forever).
            return new ObjectBackend.ListResult.Page(List.of(), List.of(), false, "");
        }
        String prefix = query.prefix();
        String delimiter = query.delimiter();
        // Start at whichever is later: the prefix or just after startAfter.
        NavigableMap<String, V> tail;
        if (!query.startAfter().isEmpty() && KeyOrder.INSTANCE.compare(query.startAfter(), prefix) >= 0) {
            tail = objects.tailMap(query.startAfter(), false);
        } else {
            tail = objects.tailMap(prefix, true);
        }
        List<ObjectInfo> contents = new ArrayList<>();
        List<String> commonPrefixes = new ArrayList<>();
        String lastKey = "";
        String openPrefix = null; // common prefix whose keys are being skipped
        boolean truncated = false;
        for (Map.Entry<String, V> e : tail.entrySet()) {
            String key = e.getKey();
            if (!key.startsWith(prefix)) {
                break;
            }
            if (openPrefix != null && key.startsWith(openPrefix)) {
                lastKey = key; // rolled up into the common prefix already returned
                continue;
            }
            openPrefix = null;
            String rollUp = null;
            if (!delimiter.isEmpty()) {
                int at = key.indexOf(delimiter, prefix.length());
                if (at >= 0) {
                    rollUp = key.substring(0, at + delimiter.length());
                }
            }
            if (contents.size() + commonPrefixes.size() >= query.maxKeys()) {
                truncated = true;
                break;
            }
            if (rollUp != null) {
                commonPrefixes.add(rollUp);
                openPrefix = rollUp;
            } else {
                contents.add(info.apply(e.getValue()));
            }
            lastKey = key;
        }
        return new ObjectBackend.ListResult.Page(contents, commonPrefixes, truncated, lastKey);
    }
}
