// Package store keeps routecast's source of truth: the routes of every scope,
// one revision counter that grows by one per committed batch, and a change
// log of every put and delete.
//
// The Store interface has one implementation per backend (bbolt by default);
// the conformance suite in package storetest runs against each.
package store

import (
	"context"
	"fmt"
	"math"
	"time"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
)

// Store is the routes database. Implementations are safe for concurrent use.
// Routes passed in are not retained; routes returned are owned by the caller.
type Store interface {
	// Apply commits a batch of puts and deletes in one scope at one new
	// revision, or nothing at all. A batch that changes nothing creates no
	// revision. Apply does not validate route content; callers do.
	Apply(ctx context.Context, scope string, b Batch) (Result, error)

	// Get returns one route, or an error wrapping ErrNotFound.
	Get(ctx context.Context, scope, name string) (*routecastv1.Route, error)

	// List returns up to limit routes of scope whose names sort after
	// after, in name order, and the revision they were read at. A limit of
	// zero or less means no limit.
	List(ctx context.Context, scope, after string, limit int) ([]*routecastv1.Route, uint64, error)

	// Scopes returns every scope that holds routes, in name order.
	Scopes(ctx context.Context) ([]ScopeInfo, error)

	// Revision returns the current revision; zero for an empty store.
	Revision(ctx context.Context) (uint64, error)

	// Changes returns up to limit change-log entries after position
	// after, oldest first, filtered by f, and the position of the last one
	// returned (after itself when none is). A limit of zero or less means
	// no limit.
	Changes(ctx context.Context, after LogPosition, limit int, f ChangeFilter) ([]*routecastv1.Change, LogPosition, error)

	// Subscribe takes a consistent snapshot of every scope and registers fn
	// to be called with every later commit, in revision order, with no gap
	// between the snapshot and the first commit. fn runs on the committing
	// goroutine and must not block or call back into the store. The returned
	// function unregisters fn.
	Subscribe(ctx context.Context, fn func(Commit)) (Snapshot, func(), error)

	// Revoke stores a revocation of one SPIFFE ID or one certificate
	// serial (exactly one of r's targets set), replacing an earlier one of
	// the same target. Revocations never touch routes or the revision.
	Revoke(ctx context.Context, r *routecastv1.Revocation) error

	// Unrevoke deletes the revocation of target, or returns an error
	// wrapping ErrNotFound.
	Unrevoke(ctx context.Context, target RevocationTarget) error

	// Revocations lists every revocation: SPIFFE IDs first, then serials,
	// each in order.
	Revocations(ctx context.Context) ([]*routecastv1.Revocation, error)

	// WatchRevocations returns the current revocations and calls fn with
	// the full list after every change, in order. fn runs on the changing
	// goroutine and must not block or call back into the store.
	WatchRevocations(ctx context.Context, fn func([]*routecastv1.Revocation)) ([]*routecastv1.Revocation, func(), error)

	// Close releases the store. Calls after Close return ErrClosed.
	Close() error
}

// RevocationTarget names what a revocation refuses: one of the fields is
// set.
type RevocationTarget struct {
	SPIFFEID string
	Serial   string
}

// TargetOf returns the target of r.
func TargetOf(r *routecastv1.Revocation) RevocationTarget {
	return RevocationTarget{SPIFFEID: r.GetSpiffeId(), Serial: r.GetSerial()}
}

// key is the target as a store key: "id:" or "serial:" and the value.
func (t RevocationTarget) key() ([]byte, error) {
	switch {
	case t.SPIFFEID != "" && t.Serial == "":
		return []byte("id:" + t.SPIFFEID), nil
	case t.Serial != "" && t.SPIFFEID == "":
		return []byte("serial:" + t.Serial), nil
	}
	return nil, fmt.Errorf("%w: a revocation names exactly one SPIFFE ID or serial", ErrInvalid)
}

// Batch is a set of changes to one scope.
type Batch struct {
	// Puts are routes to create or replace; names are unique in a batch.
	Puts []*routecastv1.Route
	// Deletes are names of routes to delete; each must exist.
	Deletes []string
	// Prune deletes every route of the scope that Puts does not name.
	Prune bool
	// Expected maps names to the version the stored route must have for
	// the batch to commit; zero means the route must not exist.
	Expected map[string]uint64
	// DryRun computes the result without committing.
	DryRun bool
	// Actor is recorded in the change log: who asked for the batch.
	Actor string
}

// Result says what a batch changed.
type Result struct {
	// Revision is the store revision after the batch.
	Revision uint64
	// Created, Updated and Deleted name the routes the batch changed, in
	// name order.
	Created, Updated, Deleted []string
	// Unchanged counts puts identical to the stored route.
	Unchanged int
}

// Changed reports whether the batch changed anything.
func (r Result) Changed() bool {
	return len(r.Created)+len(r.Updated)+len(r.Deleted) > 0
}

// Commit is one committed batch, as delivered to subscribers.
type Commit struct {
	// Revision of the commit.
	Revision uint64
	// Scope the batch changed.
	Scope string
	// Puts are the routes as stored, with scope and version set, in name
	// order: subscribers can send the bytes without encoding the routes
	// again.
	Puts []StoredRoute
	// Deletes are the names deleted.
	Deletes []string
	// Time the commit was made.
	Time time.Time
}

// StoredRoute is a route as stored, not decoded.
type StoredRoute struct {
	Name    string
	Version uint64
	// Bytes is the route's deterministic protobuf encoding, scope and
	// version included.
	Bytes []byte
}

// Snapshot is every route of the store at one revision.
type Snapshot struct {
	// Revision the snapshot was taken at.
	Revision uint64
	// Scopes maps each scope to its routes in name order, as stored:
	// name, version and encoding, not decoded, so that loading a large
	// store costs one copy of its bytes.
	Scopes map[string][]StoredRoute
	// ScopeRevisions maps every scope that ever changed, emptied ones
	// included, to the revision of its latest change.
	ScopeRevisions map[string]uint64
}

// ScopeInfo summarizes one scope.
type ScopeInfo struct {
	// Scope is "tenant/environment".
	Scope string
	// Routes counts the routes in the scope.
	Routes int
	// Revision is the highest version among the scope's routes and
	// deletions.
	Revision uint64
}

// LogPosition is an entry of the change log: the revision of its commit
// and its index among the commit's changes. A commit can hold more
// changes than a caller reads at once; a position can stop inside it.
type LogPosition struct {
	Revision uint64
	Index    uint32
}

// AfterRevision returns the position after every change of revision rev,
// and so before every later one.
func AfterRevision(rev uint64) LogPosition {
	return LogPosition{Revision: rev, Index: math.MaxUint32}
}

// ChangeFilter narrows Changes. Zero values match everything.
type ChangeFilter struct {
	// Scope keeps only changes of this scope.
	Scope string
	// Name keeps only changes of this route name.
	Name string
}

func (f ChangeFilter) match(c *routecastv1.Change) bool {
	return (f.Scope == "" || c.GetScope() == f.Scope) && (f.Name == "" || c.GetName() == f.Name)
}
