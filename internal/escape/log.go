package escape

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Writer passes a stream of log lines (progress on stderr) through Block, a line at a
// time, so that whatever a package prints there (chart and object names included) cannot
// be read as a workflow command. A partial last line is held until Flush.
type Writer struct {
	mu  sync.Mutex
	out io.Writer
	buf []byte
}

// NewWriter returns a Writer printing to out.
func NewWriter(out io.Writer) *Writer { return &Writer{out: out} }

// Write escapes and prints every complete line of p.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	i := bytes.LastIndexByte(w.buf, '\n')
	if i < 0 {
		return len(p), nil
	}
	if _, err := io.WriteString(w.out, Block(string(w.buf[:i]))+"\n"); err != nil {
		return 0, err
	}
	w.buf = append(w.buf[:0], w.buf[i+1:]...)
	return len(p), nil
}

// Flush prints a partial last line, ended with a newline.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(w.out, Line(string(w.buf))+"\n")
	w.buf = w.buf[:0]
	return err
}

// StopCommands prints text between ::stop-commands::<token> and ::<token>:: with a fresh
// random token, so that the runner parses no line of it as a workflow command
// (https://docs.github.com/actions/reference/workflow-commands-for-github-actions#stopping-and-starting-workflow-commands).
// The token is unguessable: text written before it was drawn cannot end the block early.
func StopCommands(w io.Writer, text string) error {
	token, err := stopToken()
	if err != nil {
		return err
	}
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	_, err = fmt.Fprintf(w, "::stop-commands::%s\n%s::%s::\n", token, text, token)
	return err
}

func stopToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("stop-commands token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
