package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// browser is headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: the browser reads commands on its fd 3 and
// writes replies and events on its fd 4, each message ending with a NUL).
type browser struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	id      int
	session string
}

type message struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    any             `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func startBrowser(bin, profile string) (*browser, error) {
	toBrowser, ours, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	theirs, toUs, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile, "--window-size=1400,1000", "--remote-debugging-pipe")
	cmd.ExtraFiles = []*os.File{toBrowser, toUs} // fd 3, fd 4
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	toBrowser.Close()
	toUs.Close()
	b := &browser{cmd: cmd, in: ours, out: bufio.NewReaderSize(theirs, 1<<20)}
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		b.close()
		return nil, err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		b.close()
		return nil, err
	}
	b.session = att.SessionID
	for _, m := range []string{"Page.enable", "Performance.enable", "Runtime.enable"} {
		if err := b.call(b.session, m, map[string]any{}, nil); err != nil {
			b.close()
			return nil, err
		}
	}
	return b, nil
}

func (b *browser) send(session, method string, params any) (int, error) {
	b.id++
	msg, err := json.Marshal(message{ID: b.id, Method: method, Params: params, SessionID: session})
	if err != nil {
		return 0, err
	}
	_, err = b.in.Write(append(msg, 0))
	return b.id, err
}

// read returns the next message.
func (b *browser) read() (message, error) {
	raw, err := b.out.ReadBytes(0)
	if err != nil {
		return message{}, err
	}
	var m message
	err = json.Unmarshal(raw[:len(raw)-1], &m)
	return m, err
}

// call sends a command and waits for its reply (events meanwhile are
// dropped).
func (b *browser) call(session, method string, params, result any) error {
	id, err := b.send(session, method, params)
	if err != nil {
		return err
	}
	for {
		m, err := b.read()
		if err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		if m.ID != id {
			continue
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	}
}

// navigate loads url and waits for its load event; it returns the time
// from the command to the event.
func (b *browser) navigate(url string) (time.Duration, error) {
	start := time.Now()
	if _, err := b.send(b.session, "Page.navigate", map[string]any{"url": url}); err != nil {
		return 0, err
	}
	for {
		m, err := b.read()
		if err != nil {
			return 0, err
		}
		if m.Method == "Page.loadEventFired" {
			return time.Since(start), nil
		}
	}
}

// eval evaluates an expression (awaiting a promise) and decodes its value.
func (b *browser) eval(expr string, v any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := b.call(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("evaluate: %s", r.ExceptionDetails.Text)
	}
	return json.Unmarshal(r.Result.Value, v)
}

// metrics returns the page's Performance.getMetrics counters.
func (b *browser) metrics() (map[string]float64, error) {
	var r struct {
		Metrics []struct {
			Name  string  `json:"name"`
			Value float64 `json:"value"`
		} `json:"metrics"`
	}
	if err := b.call(b.session, "Performance.getMetrics", map[string]any{}, &r); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, m := range r.Metrics {
		out[m.Name] = m.Value
	}
	return out, nil
}

func (b *browser) close() {
	b.call("", "Browser.close", map[string]any{}, nil)
	b.in.Close()
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
}
