package core

import (
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Inquiry is an inquiry or complaint (000 §10, 001 §7).
type Inquiry struct {
	ID         string    `json:"ID"`
	ReceivedAt time.Time `json:"ReceivedAt"`
	From       string    `json:"From"` // who asked
	Contact    string    `json:"Contact"`
	Channel    string    `json:"Channel"` // phone, letter, counter, mail…
	Summary    string    `json:"Summary"`
	State      string    `json:"State"` // registered, answered, closed
	Answer     string    `json:"Answer"`
	AnsweredAt time.Time `json:"AnsweredAt"`
	AnsweredBy string    `json:"AnsweredBy"`
	ClosedAt   time.Time `json:"ClosedAt"`
	ClosedBy   string    `json:"ClosedBy"`
	CloseNote  string    `json:"CloseNote"`
	CreatedBy  string    `json:"CreatedBy"`
	CreatedAt  time.Time `json:"CreatedAt"`
}

// InquiryInput registers an inquiry.
type InquiryInput struct {
	ReceivedAt time.Time // zero = now
	From       string
	Contact    string
	Channel    string
	Summary    string
}

const (
	InquiryRegistered = "registered"
	InquiryAnswered   = "answered"
	InquiryClosed     = "closed"
)

// RegisterInquiry records an inquiry or complaint.
func (s *Store) RegisterInquiry(actor Actor, in InquiryInput) (Inquiry, error) {
	if !Allowed(actor.Role, ActionInquiryRegister) {
		return Inquiry{}, s.deny(actor, ActionInquiryRegister, "")
	}
	if err := validName("from", in.From, 500); err != nil {
		return Inquiry{}, err
	}
	if err := validName("summary", in.Summary, 8000); err != nil {
		return Inquiry{}, err
	}
	for _, f := range []struct{ n, v string }{{"contact", in.Contact}, {"channel", in.Channel}} {
		if err := validText(f.n, f.v, 500); err != nil {
			return Inquiry{}, err
		}
	}
	now := s.nowUTC()
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = now
	}
	if err := checkDate("received", in.ReceivedAt, now, windowReceived); err != nil { // dates.go
		return Inquiry{}, err
	}
	q := Inquiry{ReceivedAt: in.ReceivedAt.UTC(), From: in.From, Contact: in.Contact, Channel: in.Channel,
		Summary: in.Summary, State: InquiryRegistered, CreatedBy: actor.label(), CreatedAt: now}
	_, err := s.mutate(actor, ActionInquiryRegister, "", func(tx *bolt.Tx) ([]draft, error) {
		id, err := nextID(tx, "Q", now)
		if err != nil {
			return nil, err
		}
		q.ID = id
		if err := putJSON(tx.Bucket(bInquiries), id, q); err != nil {
			return nil, err
		}
		return []draft{{Subject: id, Details: map[string]string{"from": q.From, "channel": q.Channel,
			"received": fmtTime(q.ReceivedAt)}}}, nil
	})
	if err != nil {
		return Inquiry{}, err
	}
	return q, nil
}

func (s *Store) inquiryStep(actor Actor, action Action, id string, apply func(q *Inquiry, now time.Time) (map[string]string, error)) (Inquiry, error) {
	if !Allowed(actor.Role, action) {
		return Inquiry{}, s.deny(actor, action, id)
	}
	now := s.nowUTC()
	var out Inquiry
	_, err := s.mutate(actor, action, id, func(tx *bolt.Tx) ([]draft, error) {
		b := tx.Bucket(bInquiries)
		var q Inquiry
		found, err := getJSON(b, id, &q)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, notFound("inquiry", id)
		}
		det, err := apply(&q, now)
		if err != nil {
			return nil, err
		}
		if err := putJSON(b, id, q); err != nil {
			return nil, err
		}
		out = q
		return []draft{{Subject: id, Details: det}}, nil
	})
	return out, err
}

// AnswerInquiry records the answer (manager). Answering again replaces it.
func (s *Store) AnswerInquiry(actor Actor, id, answer string) (Inquiry, error) {
	if _, err := s.authorize(actor, ActionInquiryAnswer, id); err != nil {
		return Inquiry{}, err
	}
	if err := validName("answer", answer, 8000); err != nil {
		return Inquiry{}, err
	}
	return s.inquiryStep(actor, ActionInquiryAnswer, id, func(q *Inquiry, now time.Time) (map[string]string, error) {
		if q.State == InquiryClosed {
			return nil, fmt.Errorf("%w: inquiry %s is closed", ErrConflict, id)
		}
		q.State, q.Answer, q.AnsweredAt, q.AnsweredBy = InquiryAnswered, answer, now, actor.label()
		return map[string]string{"answer": answer}, nil
	})
}

// CloseInquiry closes an inquiry (manager).
func (s *Store) CloseInquiry(actor Actor, id, note string) (Inquiry, error) {
	if _, err := s.authorize(actor, ActionInquiryClose, id); err != nil {
		return Inquiry{}, err
	}
	if err := validText("note", note, 4000); err != nil {
		return Inquiry{}, err
	}
	return s.inquiryStep(actor, ActionInquiryClose, id, func(q *Inquiry, now time.Time) (map[string]string, error) {
		if q.State == InquiryClosed {
			return nil, fmt.Errorf("%w: inquiry %s is already closed", ErrConflict, id)
		}
		q.State, q.ClosedAt, q.ClosedBy, q.CloseNote = InquiryClosed, now, actor.label(), note
		return map[string]string{"note": note}, nil
	})
}

// Inquiries lists inquiries, newest first.
func (s *Store) Inquiries(actor Actor) ([]Inquiry, error) {
	out, err := readAll[Inquiry](s, actor, ActionInquiriesRead, bInquiries)
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, err
}

// Inquiry returns one inquiry.
func (s *Store) Inquiry(actor Actor, id string) (Inquiry, error) {
	if err := s.check(actor, ActionInquiriesRead, id); err != nil {
		return Inquiry{}, err
	}
	var q Inquiry
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		found, err = getJSON(tx.Bucket(bInquiries), id, &q)
		return err
	})
	if err == nil && !found {
		err = notFound("inquiry", id)
	}
	return q, err
}
