package io.weaseldb.log;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LeaderRecordTest {
    @Test
    void aRecordKeepsTheLeadersWritesInFlight() throws Exception {
        LeaderRecord r = new LeaderRecord("a", 3, "http://a:8080", 120, 1_700_000_000_000L, 32);
        assertEquals(r, LeaderRecord.decode("leader/3", r.encode()));
    }

    @Test
    void aRecordWrittenBeforeTheFieldExistedReadsAsUnknown() throws Exception {
        byte[] old = "{\"leader_id\":\"a\",\"term\":3,\"url\":\"http://a\",\"start_version\":120,\"started_at\":5}"
                .getBytes(StandardCharsets.UTF_8);
        assertEquals(0, LeaderRecord.decode("leader/3", old).maxInFlightPuts());
    }

    @Test
    void theRecoveryWindowCoversTheLargerOfTheTwoSettings() {
        assertEquals(64, LeaderRecord.recoveryWindow(8));
        assertEquals(128, LeaderRecord.recoveryWindow(32));
        assertEquals(64, LeaderRecord.recoveryWindow(8, null), "no record: this server's own");
        assertEquals(64, LeaderRecord.recoveryWindow(8, new LeaderRecord("a", 1, "u", 0, 0, 0)), "unknown: its own");
        assertEquals(64, LeaderRecord.recoveryWindow(8, new LeaderRecord("a", 1, "u", 0, 0, 4)), "never narrower");
        assertEquals(512, LeaderRecord.recoveryWindow(8, new LeaderRecord("a", 1, "u", 0, 0, 128)));
        assertEquals(4096, LeaderRecord.recoveryWindow(8, new LeaderRecord("a", 1, "u", 0, 0, Integer.MAX_VALUE)),
                "a value read from storage is held to the setting's range");
    }
}
