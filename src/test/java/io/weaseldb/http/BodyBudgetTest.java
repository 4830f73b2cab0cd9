package io.weaseldb.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** max_in_flight_request_bytes: a body that fits exactly is received, one byte more waits. */
class BodyBudgetTest {
    @Test
    void theLastByteOfTheBudgetCanBeReservedAndNoMore() {
        BodyBudget budget = new BodyBudget(1000);
        assertTrue(budget.tryReserve(600));
        assertFalse(budget.tryReserve(401), "over the limit: nothing taken");
        assertEquals(600, budget.used());
        assertTrue(budget.tryReserve(400), "exactly the limit");
        assertEquals(1000, budget.used());
        assertFalse(budget.tryReserve(1));
        budget.release(1000);
        assertEquals(0, budget.used());
        assertTrue(budget.tryReserve(1000), "a body of the whole budget (max_in_flight_request_bytes = max_request_size_bytes)");
    }
}
