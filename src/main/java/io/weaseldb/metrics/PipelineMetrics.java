package io.weaseldb.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.weaseldb.pipeline.Persister;
import io.weaseldb.s3.StorageException;
import java.util.concurrent.TimeUnit;

/**
 * Batch-level metrics of the persister: batch sizes and ages, time to durability, retries and
 * budget overruns. Called on the persister thread; Micrometer meters are thread-safe.
 */
public final class PipelineMetrics implements Persister.Observer {
    private final DistributionSummary batchTransactions;
    private final DistributionSummary batchBytes;
    private final Timer batchAge;
    private final Timer batchPut;
    private final Counter retries;
    private final Counter budgetExceeded;

    public PipelineMetrics(MeterRegistry registry) {
        batchTransactions = DistributionSummary.builder("weaseldb.batch.transactions")
                .description("Transactions per log batch")
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
                .register(registry);
        batchBytes = DistributionSummary.builder("weaseldb.batch.size")
                .description("Encoded bytes per log batch").baseUnit("bytes")
                .serviceLevelObjectives(256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
                .register(registry);
        batchAge = Timer.builder("weaseldb.batch.age")
                .description("Time from the first transaction's sequencing to its batch being sent")
                .publishPercentileHistogram()
                .register(registry);
        batchPut = Timer.builder("weaseldb.batch.durable")
                .description("Time from sending a batch to it being durable (retries included)")
                .publishPercentileHistogram()
                .register(registry);
        retries = Counter.builder("weaseldb.batch.retries").description("Log writes retried after a storage error")
                .register(registry);
        budgetExceeded = Counter.builder("weaseldb.commits.budget.exceeded")
                .description("Commits answered 503 outcome unknown because storage did not confirm within retry_budget_ms")
                .register(registry);
    }

    @Override
    public void batchSent(int transactions, int bytes, long ageNanos) {
        batchTransactions.record(transactions);
        batchBytes.record(bytes);
        batchAge.record(ageNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void batchDurable(int transactions, long putNanos) {
        batchPut.record(putNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void retry(StorageException cause) {
        retries.increment();
    }

    @Override
    public void budgetExceeded(int commits) {
        budgetExceeded.increment(commits);
    }
}
