// Command loadgen sends gRPC unary calls whose request messages were encoded
// beforehand (by bench/ledger/load.ts) to one method, in a closed loop (N
// callers, each calling again once answered) or an open loop (calls due at a
// fixed rate whatever the answers do; latency counts from when a call was
// due). It knows nothing of the messages: each request is sent once, as given.
//
// Why Go: the generator shares the two-CPU machine with the ledger and
// PostgreSQL. The Node generator (grpc-js) spent about 190 µs of CPU per call
// and paused for 15 ms scavenges dozens of times in ten seconds, and a call
// due during such a pause counts as the ledger's latency. Go's collector does
// not stop the world for long, and the calls go out through h2.go's own
// HTTP/2 connections rather than grpc-go's client, at a fifth less CPU per
// call at 2,600 calls/s and half as much with 256 in flight. bench/README.md ("bench/ledger") has the numbers.
//
// Input: -requests names a file of length-prefixed messages (a 4-byte
// big-endian length, then the bytes). Output on stdout: the line "measuring"
// when the measured window opens, "measured" when it closes, then one line of
// JSON (see report).
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// report is what the Node side reads back (bench/ledger/load.ts, GeneratorReport).
type report struct {
	Calls        int       `json:"calls"`
	Failures     int       `json:"failures"`
	FirstFailure string    `json:"firstFailure,omitempty"`
	LatenciesMs  []float64 `json:"latenciesMs"`
	DueAtMs      []float64 `json:"dueAtMs"`
	SendLateMs   []float64 `json:"sendLateMs"`
	CPUSeconds   float64   `json:"cpuSeconds"`
	StallMaxMs   float64   `json:"stallMaxMs"`
	Exhausted    bool      `json:"exhausted"`
}

// Per request index, written once by the goroutine that sent it; the report
// counts only calls of the measured window (unsent ones stay outside).
const (
	outside = iota
	answeredInWindow
	failedInWindow
)

type outcome struct {
	state   uint8
	due     time.Duration // since start
	late    time.Duration // from due until the call began: the generator's own delay, inside latency
	latency time.Duration
	failure string
}

type options struct {
	target, method, requestsPath, authorization, mode string
	connections, concurrency, inFlightMax             int
	rate                                              float64
	warmUp, duration, timeout                         time.Duration
}

func main() {
	var o options
	var warmUpSeconds, durationSeconds, timeoutSeconds float64
	flag.StringVar(&o.target, "target", "", "host:port of the gRPC server")
	flag.StringVar(&o.method, "method", "", "full method path, /package.Service/Method")
	flag.StringVar(&o.requestsPath, "requests", "", "file of length-prefixed encoded requests, each sent once")
	flag.StringVar(&o.authorization, "authorization", "", "authorization metadata sent with every call")
	flag.StringVar(&o.mode, "mode", "closed", "closed (callers call again once answered) or open (calls at -rate)")
	flag.IntVar(&o.connections, "connections", 8, "HTTP/2 connections, calls spread over them in turn")
	flag.IntVar(&o.concurrency, "concurrency", 1, "callers of the closed loop")
	flag.Float64Var(&o.rate, "rate", 0, "calls per second of the open loop")
	flag.IntVar(&o.inFlightMax, "in-flight-max", 4096, "most calls of the open loop waiting at once")
	flag.Float64Var(&warmUpSeconds, "warm-up-seconds", 3, "seconds sent before the measured window")
	flag.Float64Var(&durationSeconds, "duration-seconds", 8, "seconds of the measured window")
	flag.Float64Var(&timeoutSeconds, "timeout-seconds", 30, "deadline of every call")
	flag.Parse()
	o.warmUp = time.Duration(warmUpSeconds * float64(time.Second))
	o.duration = time.Duration(durationSeconds * float64(time.Second))
	o.timeout = time.Duration(timeoutSeconds * float64(time.Second))
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func readRequests(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var requests [][]byte
	for len(data) > 0 {
		if len(data) < 4 {
			return nil, errors.New("requests file ends inside a length prefix")
		}
		size := binary.BigEndian.Uint32(data)
		if uint64(len(data)-4) < uint64(size) {
			return nil, errors.New("requests file ends inside a message")
		}
		requests = append(requests, data[4:4+size])
		data = data[4+size:]
	}
	return requests, nil
}

func cpuSeconds() float64 {
	var usage syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()).Seconds()
}

func run(o options) error {
	switch {
	case o.target == "" || o.method == "" || o.requestsPath == "":
		return errors.New("-target, -method and -requests are required")
	case o.mode == "open" && o.rate <= 0:
		return errors.New("-rate must be above 0 for -mode open")
	case o.mode == "closed" && o.concurrency < 1:
		return errors.New("-concurrency must be at least 1")
	case o.mode != "open" && o.mode != "closed":
		return fmt.Errorf("-mode must be open or closed, not %q", o.mode)
	case o.connections < 1 || o.inFlightMax < 1:
		return errors.New("-connections and -in-flight-max must be at least 1")
	}
	requests, err := readRequests(o.requestsPath)
	if err != nil {
		return err
	}
	conns := make([]*h2conn, o.connections)
	for i := range conns {
		if conns[i], err = dialH2(o.target, o.method, o.authorization, o.timeout); err != nil {
			return err
		}
	}

	outcomes := make([]outcome, len(requests))
	start := time.Now()
	measureFrom, measureUntil := o.warmUp, o.warmUp+o.duration
	// call sends request i, due at `due` after start, and records its outcome.
	call := func(i int, due time.Duration) {
		late := time.Since(start) - due
		err := conns[i%len(conns)].invoke(requests[i], o.timeout)
		done := time.Since(start)
		result := outcome{state: outside, due: due, late: late, latency: done - due}
		switch {
		case err != nil && due >= measureFrom:
			result.state, result.failure = failedInWindow, err.Error()
		case err == nil && due >= measureFrom && done <= measureUntil:
			result.state = answeredInWindow
		}
		outcomes[i] = result
	}

	// The window's edges, told to the Node side (it samples the servers' CPU then) and timed here.
	var cpuAtStart, cpuAtEnd float64
	var stallMax atomic.Int64
	windowDone := make(chan struct{})
	go func() {
		time.Sleep(time.Until(start.Add(measureFrom)))
		cpuAtStart = cpuSeconds()
		fmt.Println("measuring")
		// The generator's own stalls: how late a 1 ms sleep wakes up, as the Node side's event-loop delay.
		go func() {
			for {
				before := time.Now()
				time.Sleep(time.Millisecond)
				if late := time.Since(before) - time.Millisecond; late > time.Duration(stallMax.Load()) {
					stallMax.Store(int64(late))
				}
				select {
				case <-windowDone:
					return
				default:
				}
			}
		}()
		time.Sleep(time.Until(start.Add(measureUntil)))
		cpuAtEnd = cpuSeconds()
		close(windowDone)
		fmt.Println("measured")
	}()

	var next atomic.Int64
	var exhausted atomic.Bool
	var calls sync.WaitGroup
	if o.mode == "closed" {
		for c := 0; c < o.concurrency; c++ {
			calls.Add(1)
			go func() {
				defer calls.Done()
				for {
					sentAt := time.Since(start)
					if sentAt >= measureUntil {
						return
					}
					i := int(next.Add(1) - 1)
					if i >= len(requests) {
						exhausted.Store(true)
						return
					}
					call(i, sentAt)
				}
			}()
		}
	} else {
		interval := float64(time.Second) / o.rate
		slots := make(chan struct{}, o.inFlightMax)
		for i := 0; ; i++ {
			due := time.Duration(math.Round(float64(i) * interval))
			if due >= measureUntil {
				break
			}
			if i >= len(requests) {
				exhausted.Store(true)
				break
			}
			if wait := time.Until(start.Add(due)); wait > 0 {
				time.Sleep(wait)
			}
			slots <- struct{}{}
			calls.Add(1)
			go func() {
				defer calls.Done()
				call(i, due)
				<-slots
			}()
		}
	}
	calls.Wait()
	<-windowDone

	out := report{CPUSeconds: cpuAtEnd - cpuAtStart, StallMaxMs: float64(stallMax.Load()) / 1e6, Exhausted: exhausted.Load()}
	for _, result := range outcomes {
		switch result.state {
		case answeredInWindow:
			out.Calls++
			out.LatenciesMs = append(out.LatenciesMs, float64(result.latency)/1e6)
			out.DueAtMs = append(out.DueAtMs, float64(result.due)/1e6)
			out.SendLateMs = append(out.SendLateMs, float64(result.late)/1e6)
		case failedInWindow:
			out.Failures++
			if out.FirstFailure == "" {
				out.FirstFailure = result.failure
			}
		}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
