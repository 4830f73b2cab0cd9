// etcd-txn drives etcd over its native gRPC API (clientv3) with the same load shape as
// weaseldb-bench's rmw workload: each transaction is Txn(If(ModRevision(k) < readRev+1),
// Then(Put(k, 100 B value))), keys 16 bytes drawn uniformly from a key space, readRev the newest
// revision seen. Closed loop: CONNECTIONS workers, each with one transaction in flight, over
// CLIENTS gRPC connections. It exists to check that the JSON gateway the Java generator uses does
// not understate etcd (see docs/performance.md). Prints one JSON object.
//
//	go run . -endpoint 127.0.0.1:2379 -workers 64 -warmup 5s -duration 20s
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

type result struct {
	Label              string  `json:"label"`
	Workers            int     `json:"workers"`
	Clients            int     `json:"clients"`
	MeasuredSeconds    float64 `json:"measured_seconds"`
	Committed          int64   `json:"committed"`
	Conflicts          int64   `json:"conflicts"`
	Errors             int64   `json:"errors"`
	CommittedPerSecond float64 `json:"committed_per_second"`
	LatencyUs          struct {
		P50  int64 `json:"p50"`
		P99  int64 `json:"p99"`
		P999 int64 `json:"p99_9"`
		Max  int64 `json:"max"`
	} `json:"latency_us"`
}

func main() {
	endpoint := flag.String("endpoint", "127.0.0.1:2379", "etcd client endpoint")
	workers := flag.Int("workers", 64, "concurrent transactions (closed loop)")
	clients := flag.Int("clients", 4, "gRPC connections the workers share")
	keys := flag.Int("keys", 1_000_000, "key space")
	valueBytes := flag.Int("value-bytes", 100, "value size")
	warmup := flag.Duration("warmup", 5*time.Second, "not recorded")
	duration := flag.Duration("duration", 20*time.Second, "recorded")
	flag.Parse()

	cs := make([]*clientv3.Client, *clients)
	for i := range cs {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{*endpoint}, DialTimeout: 10 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, "etcd-txn:", err)
			os.Exit(1)
		}
		defer c.Close()
		cs[i] = c
	}
	ctx, cancel := context.WithTimeout(context.Background(), *warmup+*duration+30*time.Second)
	defer cancel()
	r, err := cs[0].Get(ctx, "\x00")
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd-txn:", err)
		os.Exit(1)
	}
	var newest atomic.Int64
	newest.Store(r.Header.Revision)
	value := make([]byte, *valueBytes)
	rand.New(rand.NewSource(1)).Read(value)

	start := time.Now()
	measure := start.Add(*warmup)
	end := measure.Add(*duration)
	var committed, conflicts, errs atomic.Int64
	lat := make([][]int64, *workers)
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(int64(w) + 1))
			kv := cs[w%len(cs)]
			key := make([]byte, 16)
			for i := 0; i < 8; i++ {
				key[i] = 'k'
			}
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				binary.BigEndian.PutUint64(key[8:], uint64(rnd.Intn(*keys)))
				k := string(key)
				rev := newest.Load()
				resp, err := kv.Txn(ctx).
					If(clientv3.Compare(clientv3.ModRevision(k), "<", rev+1)).
					Then(clientv3.OpPut(k, string(value))).Commit()
				t1 := time.Now()
				if t0.Before(measure) {
					if err == nil {
						raise(&newest, resp.Header.Revision)
					}
					continue
				}
				lat[w] = append(lat[w], t1.Sub(t0).Microseconds())
				switch {
				case err != nil:
					errs.Add(1)
				case resp.Succeeded:
					committed.Add(1)
					raise(&newest, resp.Header.Revision)
				default:
					conflicts.Add(1)
					raise(&newest, resp.Header.Revision)
				}
			}
		}(w)
	}
	wg.Wait()
	var all []int64
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) int64 {
		if len(all) == 0 {
			return 0
		}
		return all[int(p*float64(len(all)-1))]
	}
	var res result
	res.Label = "etcd-grpc"
	res.Workers = *workers
	res.Clients = *clients
	res.MeasuredSeconds = duration.Seconds()
	res.Committed = committed.Load()
	res.Conflicts = conflicts.Load()
	res.Errors = errs.Load()
	res.CommittedPerSecond = float64(res.Committed) / duration.Seconds()
	res.LatencyUs.P50, res.LatencyUs.P99, res.LatencyUs.P999 = pct(0.5), pct(0.99), pct(0.999)
	if len(all) > 0 {
		res.LatencyUs.Max = all[len(all)-1]
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(out))
}

func raise(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}
