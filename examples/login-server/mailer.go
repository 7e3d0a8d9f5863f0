package main

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Message is one mail the server sends: to one recipient, plain text.
type Message struct {
	To      string // a bare address, as normalizeEmail accepts
	Subject string
	Body    string
	// Link is the secret link the body carries; the log mailer logs it on its own for development.
	Link string
}

// Mailer sends mail. Send must return within ctx's deadline.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// logMailer is the default Mailer: it logs the link instead of sending anything. The link is a secret (whoever
// holds it resets the password), so it is for development only; newApp says so at startup.
type logMailer struct{ log *slog.Logger }

func (l logMailer) Send(ctx context.Context, m Message) error {
	l.log.InfoContext(ctx, "mail not sent (no SMTP_ADDR): logging its link for development", "to", m.To,
		"subject", m.Subject, "link", m.Link)
	return nil
}

const (
	// mailQueueSize bounds the mails waiting to be sent; past it, new ones are dropped (and logged).
	mailQueueSize = 256
	// mailTimeout bounds one job: looking up the user, storing the token and talking to the mail server.
	mailTimeout = 30 * time.Second
)

// mailQueue runs account mail jobs on one goroutine, so that a request answers before the database write and
// the SMTP conversation: neither their time nor their failure tells the client whether the email exists.
// Close stops the goroutine after the job in progress; jobs still queued are dropped.
type mailQueue struct {
	log    *slog.Logger
	jobs   chan func(ctx context.Context)
	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func newMailQueue(log *slog.Logger) *mailQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &mailQueue{log: log, jobs: make(chan func(context.Context), mailQueueSize), ctx: ctx, cancel: cancel}
	q.done.Add(1)
	go q.run()
	return q
}

func (q *mailQueue) run() {
	defer q.done.Done()
	for {
		select {
		case <-q.ctx.Done():
			return
		case job := <-q.jobs:
			ctx, cancel := context.WithTimeout(q.ctx, mailTimeout)
			job(ctx)
			cancel()
		}
	}
}

// enqueue adds job without waiting; a full queue drops it, whichever email it is for.
func (q *mailQueue) enqueue(job func(ctx context.Context)) {
	select {
	case q.jobs <- job:
	default:
		q.log.Warn("mail queue full: dropping an account mail; is the mail server slow or down?", "queue_size", mailQueueSize)
	}
}

// Close stops the worker and waits for it.
func (q *mailQueue) Close() {
	q.cancel()
	q.done.Wait()
}
