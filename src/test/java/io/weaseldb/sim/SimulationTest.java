package io.weaseldb.sim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Runs the deterministic simulation for many seeds within a time budget
 * ({@code -Dweaseldb.sim.seconds}, default 45). A failure names its seed; replay it alone with
 * {@code ./mvnw -o test -DskipPython -Dtest=SimulationTest -Dweaseldb.sim.seed=SEED}.
 */
class SimulationTest {
    @Test
    @Timeout(600)
    void manySeedsKeepEveryInvariant() {
        String replay = System.getProperty("weaseldb.sim.seed");
        if (replay != null) {
            new Simulation(Long.parseLong(replay), Integer.getInteger("weaseldb.sim.actions", 150)).run();
            return;
        }
        long budgetNanos = Long.getLong("weaseldb.sim.seconds", 45) * 1_000_000_000L;
        long base = Long.getLong("weaseldb.sim.base", System.nanoTime());
        long start = System.nanoTime();
        int seeds = 0;
        long steps = 0;
        long acked = 0;
        long truncations = 0;
        long belowFloor = 0;
        long looks = 0;
        long fencedByLooks = 0;
        while (System.nanoTime() - start < budgetNanos) {
            long seed = base + seeds;
            Simulation sim = new Simulation(seed, 60 + (int) Math.floorMod(seed, 140));
            try {
                sim.run();
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("simulation failed for seed " + seed + "; replay with -Dweaseldb.sim.seed=" + seed
                        + " -Dweaseldb.sim.actions=" + (60 + Math.floorMod(seed, 140)) + ": " + e, e);
            }
            seeds++;
            steps += sim.steps();
            acked += sim.acknowledged();
            truncations += sim.truncations();
            belowFloor += sim.belowFloorFound();
            looks += sim.looks()[0];
            fencedByLooks += sim.looks()[1];
        }
        System.out.printf("simulation: %d seeds (%d..%d), %d steps, %d acknowledged commits checked, %d truncation"
                + " passes, %d objects found below the floor by recoveries, %d looks at the log before acknowledging"
                + " past the lease (%d found a newer term)%n", seeds, base, base + seeds - 1, steps, acked, truncations,
                belowFloor, looks, fencedByLooks);
        assertTrue(seeds >= 50, "too few seeds in the budget: " + seeds);
        assertTrue(truncations > 0 && belowFloor > 0, "the runs no longer truncate the log, or no recovery meets what"
                + " lies below the floor");
        assertTrue(fencedByLooks > 0, "no look at the log found a newer term: the lease is no longer exercised");
    }
}
