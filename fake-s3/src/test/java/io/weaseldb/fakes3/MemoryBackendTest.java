package io.weaseldb.fakes3;

class MemoryBackendTest extends ObjectBackendContractTest {
    @Override
    protected ObjectBackend open() {
        return new MemoryBackend(clock);
    }
}
