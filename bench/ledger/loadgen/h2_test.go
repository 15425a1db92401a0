package main

// h2conn against Go's own HTTP/2 server, which enforces flow control to the
// byte (a client that overruns a window gets FLOW_CONTROL_ERROR) and is told
// here to keep its windows small. bench/test/loadgen.test.ts runs these with
// `go test` and the generator against a grpc-js server, whose windows Node's
// HTTP/2 does not enforce.

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// grpcServer serves unary calls over cleartext HTTP/2 (prior knowledge, as
// the generator speaks) with 16 KiB stream windows: answer is given each
// request's message and the call's headers, and returns the grpc-status to end with.
func grpcServer(t *testing.T, answer func(request []byte, header http.Header) (status, message string)) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	server := &http2.Server{MaxUploadBufferPerStream: 16 << 10, MaxUploadBufferPerConnection: 64 << 10}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return // The stream was reset; the client sees why.
		}
		if len(body) < 5 || int(binary.BigEndian.Uint32(body[1:5])) != len(body)-5 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		status, message := answer(body[5:], r.Header)
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		w.WriteHeader(http.StatusOK)
		if status == "0" {
			_, _ = w.Write([]byte{0, 0, 0, 0, 0}) // An empty message.
		}
		w.Header().Set("Grpc-Status", status)
		w.Header().Set("Grpc-Message", message)
	})
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go server.ServeConn(conn, &http2.ServeConnOpts{Handler: handler})
		}
	}()
	return listener.Addr().String()
}

func dial(t *testing.T, address string) *h2conn {
	t.Helper()
	conn, err := dialH2(address, "/trustmesh.testing.v1.EchoService/Echo", "Bearer token", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func TestMessagesLargerThanTheWindowsArriveWhole(t *testing.T) {
	var lock sync.Mutex
	var lengths []int
	var headers []http.Header
	address := grpcServer(t, func(message []byte, header http.Header) (string, string) {
		lock.Lock()
		defer lock.Unlock()
		lengths = append(lengths, len(message))
		headers = append(headers, header)
		if !bytes.Equal(message, bytes.Repeat([]byte{7}, len(message))) {
			return "3", "the message arrived changed"
		}
		return "0", ""
	})
	conn := dial(t, address)
	// Ten callers at once on one connection, each with 300 kB: the connection's
	// 64 KiB and each stream's 16 KiB window make them all wait, in turn.
	var callers sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		callers.Add(1)
		go func() {
			defer callers.Done()
			errs <- conn.invoke(bytes.Repeat([]byte{7}, 300_000), 10*time.Second)
		}()
	}
	callers.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(lengths) != 10 {
		t.Fatalf("the server answered %d calls, not 10", len(lengths))
	}
	for i, length := range lengths {
		if length != 300_000 {
			t.Fatalf("call %d carried %d bytes, not 300000", i, length)
		}
		h := headers[i]
		if h.Get("Authorization") != "Bearer token" || h.Get("Te") != "trailers" || h.Get("Grpc-Timeout") != "30000m" ||
			h.Get("Content-Type") != "application/grpc+proto" {
			t.Fatalf("call %d headers: %v", i, h)
		}
	}
}

func TestARefusedCallFailsWithItsStatusAndMessage(t *testing.T) {
	address := grpcServer(t, func([]byte, http.Header) (string, string) { return "7", "not%20for%20you" })
	err := dial(t, address).invoke([]byte("hello"), 10*time.Second)
	if err == nil || err.Error() != "grpc-status 7: not for you" {
		t.Fatalf("got %v", err)
	}
}

func TestACallWithoutAnswerEndsAtItsTimeoutAndTheConnectionGoesOn(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	address := grpcServer(t, func(message []byte, _ http.Header) (string, string) {
		if string(message) == "hang" {
			<-release
		}
		return "0", ""
	})
	conn := dial(t, address)
	began := time.Now()
	err := conn.invoke([]byte("hang"), 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("got %v", err)
	}
	if elapsed := time.Since(began); elapsed < 300*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("the call ended after %v", elapsed)
	}
	if err := conn.invoke([]byte("next"), 10*time.Second); err != nil {
		t.Fatalf("the next call on the connection: %v", err)
	}
}

func TestEveryCallFailsOnceTheConnectionIsGone(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, err := listener.Accept()
		if err == nil {
			accepted <- conn
		}
	}()
	// A server that sends its settings and then closes the connection under a call.
	go func() {
		conn := <-accepted
		framer := http2.NewFramer(conn, conn)
		preface := make([]byte, len(http2.ClientPreface))
		_, _ = io.ReadFull(conn, preface)
		_ = framer.WriteSettings()
		_, _ = framer.ReadFrame() // The client's settings.
		time.Sleep(100 * time.Millisecond)
		conn.Close()
	}()
	conn, err := dialH2(listener.Addr().String(), "/a/B", "", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.invoke([]byte("x"), 10*time.Second); err == nil || !strings.Contains(err.Error(), "connection") {
		t.Fatalf("the call in flight: %v", err)
	}
	if err := conn.invoke([]byte("y"), 10*time.Second); err == nil {
		t.Fatal("a call after the connection ended succeeded")
	}
}
