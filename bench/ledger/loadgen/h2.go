package main

// h2conn is one HTTP/2 connection that makes gRPC unary calls of messages
// encoded beforehand: a HEADERS frame and the message's DATA frames out, the
// answer's frames read back by one goroutine per connection, which finishes
// each call when its trailers arrive. It is all a generator needs of gRPC.
// grpc-go's client spent much of its CPU on machinery the generator does not
// use (a context and several goroutines per call, retries, the balancer,
// stack growth): 0.26 cores at 2,600 calls/s on the bench machine (about
// 100 µs a call), taken from the ledger and PostgreSQL it measures; this
// costs 0.20-0.21, and 0.14-0.15 against 0.33 with 256 calls in flight
// (services/ledger/README.md, "Session 22").
//
// The frames and header compression are golang.org/x/net/http2's; flow
// control is kept in both directions, so a batch of 1000 transfers (about
// 300 kB) waits for the server's window like any client's (h2_test.go holds
// it to a server that enforces windows).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// receiveWindow is every stream's and the connection's receive window, as
// large as grpc-go's fixed windows were, so answers never wait for ours.
const receiveWindow = 16 << 20

// stream is one call in flight.
type stream struct {
	sendWindow int64 // guarded by h2conn.writing
	status     string
	message    string
	done       chan error // buffered: the reader never waits for the caller
}

type h2conn struct {
	// writing guards the framer's writes, the stream ids and the send windows;
	// windowed waits on it for the server's WINDOW_UPDATE or SETTINGS.
	writing       sync.Mutex
	windowed      *sync.Cond
	framer        *http2.Framer
	out           *bufio.Writer
	headerBlock   bytes.Buffer
	headerEncoder *hpack.Encoder
	headers       []hpack.HeaderField
	nextStreamID  uint32
	connWindow    int64
	peerWindow    int64 // the server's initial stream window
	frameSizeMax  int

	streamsLock sync.Mutex
	streams     map[uint32]*stream
	broken      error // set once, under streamsLock; every later call fails with it

	unacknowledged uint32 // received DATA bytes not yet given back in a WINDOW_UPDATE (reader only)
}

// dialH2 connects and exchanges settings, so no measured call waits for a handshake.
func dialH2(target, path, authorization string, timeout time.Duration) (*h2conn, error) {
	socket, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		return nil, err
	}
	conn, err := handshake(socket, target, path, authorization, timeout)
	if err != nil {
		socket.Close()
		return nil, err
	}
	return conn, nil
}

// handshake sends the client's preface and settings and waits for the server's.
func handshake(socket net.Conn, target, path, authorization string, timeout time.Duration) (*h2conn, error) {
	c := &h2conn{
		out:          bufio.NewWriterSize(socket, 64<<10),
		nextStreamID: 1,
		connWindow:   65535,
		peerWindow:   65535,
		frameSizeMax: 16384,
		streams:      map[uint32]*stream{},
	}
	c.windowed = sync.NewCond(&c.writing)
	c.framer = http2.NewFramer(c.out, bufio.NewReaderSize(socket, 64<<10))
	c.framer.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.headerEncoder = hpack.NewEncoder(&c.headerBlock)
	// The headers grpc-go sent (its user agent aside), so the server does the same work per call as before.
	c.headers = []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: path},
		{Name: ":authority", Value: target},
		{Name: "content-type", Value: "application/grpc+proto"},
		{Name: "user-agent", Value: "trustmesh-loadgen"},
		{Name: "te", Value: "trailers"},
		{Name: "grpc-timeout", Value: fmt.Sprintf("%dm", timeout.Milliseconds())},
	}
	if authorization != "" {
		c.headers = append(c.headers, hpack.HeaderField{Name: "authorization", Value: authorization})
	}

	if _, err := c.out.WriteString(http2.ClientPreface); err != nil {
		return nil, err
	}
	if err := c.framer.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: receiveWindow}); err != nil {
		return nil, err
	}
	if err := c.framer.WriteWindowUpdate(0, receiveWindow-65535); err != nil {
		return nil, err
	}
	if err := c.out.Flush(); err != nil {
		return nil, err
	}
	settled := make(chan struct{})
	go c.read(socket, settled)
	select {
	case <-settled:
		return c, nil
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("no HTTP/2 settings from %s within 10 s", target)
	}
}

// invoke sends one call and waits for its answer, both within timeout; an
// error names the call's failure.
func (c *h2conn) invoke(message []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	s := &stream{done: make(chan error, 1)}
	payload := make([]byte, 5+len(message))
	binary.BigEndian.PutUint32(payload[1:5], uint32(len(message)))
	copy(payload[5:], message)

	c.writing.Lock()
	id := c.nextStreamID
	c.nextStreamID += 2
	s.sendWindow = c.peerWindow
	c.streamsLock.Lock()
	broken := c.broken
	if broken == nil {
		c.streams[id] = s
	}
	c.streamsLock.Unlock()
	if broken != nil {
		c.writing.Unlock()
		return broken
	}
	err := c.send(id, s, payload, deadline)
	c.writing.Unlock()
	if errors.Is(err, errTimedOut) {
		return c.abandon(id, timeout)
	}
	if err != nil {
		c.fail(err)
		return err
	}

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case err := <-s.done:
		return err
	case <-timer.C:
		return c.abandon(id, timeout)
	}
}

// errTimedOut is send's: the server's window stayed shut until the call's deadline.
var errTimedOut = errors.New("timed out")

// abandon resets a call that ran out of time, so the server stops working on it.
func (c *h2conn) abandon(id uint32, timeout time.Duration) error {
	c.forget(id)
	c.writing.Lock()
	_ = c.framer.WriteRSTStream(id, http2.ErrCodeCancel)
	_ = c.out.Flush()
	c.writing.Unlock()
	return fmt.Errorf("no answer within %v", timeout)
}

// send writes a call's frames; the caller holds c.writing.
func (c *h2conn) send(id uint32, s *stream, payload []byte, deadline time.Time) error {
	c.headerBlock.Reset()
	for _, field := range c.headers {
		if err := c.headerEncoder.WriteField(field); err != nil {
			return err
		}
	}
	if err := c.framer.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.headerBlock.Bytes(), EndHeaders: true}); err != nil {
		return err
	}
	var wake *time.Timer // wakes the wait below at the deadline, if it comes to waiting
	defer func() {
		if wake != nil {
			wake.Stop()
		}
	}()
	for len(payload) > 0 {
		for c.connWindow <= 0 || s.sendWindow <= 0 {
			// Wait for the server's window; what is written so far goes out first.
			if err := c.out.Flush(); err != nil {
				return err
			}
			if err := c.brokenErr(); err != nil {
				return err
			}
			if !time.Now().Before(deadline) {
				return errTimedOut
			}
			if wake == nil {
				wake = time.AfterFunc(time.Until(deadline), func() {
					c.writing.Lock()
					c.windowed.Broadcast()
					c.writing.Unlock()
				})
			}
			c.windowed.Wait()
		}
		size := min(int64(len(payload)), int64(c.frameSizeMax), c.connWindow, s.sendWindow)
		if err := c.framer.WriteData(id, size == int64(len(payload)), payload[:size]); err != nil {
			return err
		}
		c.connWindow -= size
		s.sendWindow -= size
		payload = payload[size:]
	}
	return c.out.Flush()
}

// read takes every frame the server sends, until the connection ends.
func (c *h2conn) read(socket net.Conn, settled chan<- struct{}) {
	defer socket.Close()
	for {
		frame, err := c.framer.ReadFrame()
		if err != nil {
			c.fail(fmt.Errorf("connection: %w", err))
			return
		}
		switch f := frame.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			c.writing.Lock()
			_ = f.ForeachSetting(func(setting http2.Setting) error {
				switch setting.ID {
				case http2.SettingInitialWindowSize:
					delta := int64(setting.Val) - c.peerWindow
					c.peerWindow = int64(setting.Val)
					c.streamsLock.Lock()
					for _, s := range c.streams {
						s.sendWindow += delta
					}
					c.streamsLock.Unlock()
				case http2.SettingMaxFrameSize:
					c.frameSizeMax = int(setting.Val)
				}
				return nil
			})
			err = c.framer.WriteSettingsAck()
			if err == nil {
				err = c.out.Flush()
			}
			c.windowed.Broadcast()
			c.writing.Unlock()
			if settled != nil {
				close(settled)
				settled = nil
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				c.writing.Lock()
				err = c.framer.WritePing(true, f.Data)
				if err == nil {
					err = c.out.Flush()
				}
				c.writing.Unlock()
			}
		case *http2.WindowUpdateFrame:
			c.writing.Lock()
			if f.StreamID == 0 {
				c.connWindow += int64(f.Increment)
			} else if s := c.lookup(f.StreamID); s != nil {
				s.sendWindow += int64(f.Increment)
			}
			c.windowed.Broadcast()
			c.writing.Unlock()
		case *http2.MetaHeadersFrame:
			if s := c.lookup(f.StreamID); s != nil {
				if status := f.PseudoValue("status"); status != "" && status != "200" {
					s.message = "HTTP status " + status
				}
				for _, field := range f.RegularFields() {
					switch field.Name {
					case "grpc-status":
						s.status = field.Value
					case "grpc-message":
						// Percent-encoded, as gRPC's wire format has it.
						if message, err := url.PathUnescape(field.Value); err == nil {
							s.message = message
						} else {
							s.message = field.Value
						}
					}
				}
				if f.StreamEnded() {
					c.finish(f.StreamID, s)
				}
			}
		case *http2.DataFrame:
			err = c.giveBack(f.Length)
			if s := c.lookup(f.StreamID); s != nil && f.StreamEnded() {
				c.finish(f.StreamID, s)
			}
		case *http2.RSTStreamFrame:
			if s := c.forget(f.StreamID); s != nil {
				s.done <- fmt.Errorf("stream reset by the server: %v", f.ErrCode)
			}
		case *http2.GoAwayFrame:
			c.fail(fmt.Errorf("the server sent GOAWAY: %v", f.ErrCode))
			return
		}
		if err != nil {
			c.fail(fmt.Errorf("connection: %w", err))
			return
		}
	}
}

// giveBack returns received bytes to the connection's window once half of it is used.
func (c *h2conn) giveBack(size uint32) error {
	c.unacknowledged += size
	if c.unacknowledged < receiveWindow/2 {
		return nil
	}
	c.writing.Lock()
	defer c.writing.Unlock()
	err := c.framer.WriteWindowUpdate(0, c.unacknowledged)
	c.unacknowledged = 0
	if err != nil {
		return err
	}
	return c.out.Flush()
}

// finish ends a call with its grpc-status: 0 is success, anything else its error.
func (c *h2conn) finish(id uint32, s *stream) {
	c.forget(id)
	switch {
	case s.status == "0":
		s.done <- nil
	case s.status == "":
		s.done <- fmt.Errorf("the answer ended without grpc-status (%s)", s.message)
	default:
		s.done <- fmt.Errorf("grpc-status %s: %s", s.status, s.message)
	}
}

func (c *h2conn) lookup(id uint32) *stream {
	c.streamsLock.Lock()
	defer c.streamsLock.Unlock()
	return c.streams[id]
}

func (c *h2conn) forget(id uint32) *stream {
	c.streamsLock.Lock()
	defer c.streamsLock.Unlock()
	s := c.streams[id]
	delete(c.streams, id)
	return s
}

func (c *h2conn) brokenErr() error {
	c.streamsLock.Lock()
	defer c.streamsLock.Unlock()
	return c.broken
}

// fail ends every call in flight with err, and every later one.
func (c *h2conn) fail(err error) {
	c.streamsLock.Lock()
	if c.broken == nil {
		c.broken = err
	}
	streams := c.streams
	c.streams = map[uint32]*stream{}
	c.streamsLock.Unlock()
	for _, s := range streams {
		s.done <- err
	}
	// A sender waiting for a window must see the failure; it holds nothing, so take the lock to wake it.
	go func() {
		c.writing.Lock()
		c.windowed.Broadcast()
		c.writing.Unlock()
	}()
}
