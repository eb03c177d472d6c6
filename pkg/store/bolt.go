package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/internal/parallel"
)

// The bbolt file holds four top-level buckets.
var (
	// metaBucket holds keyRevision: the store revision, 8 bytes big endian.
	metaBucket = []byte("meta")
	// scopesBucket holds one nested bucket per scope: name -> Route.
	scopesBucket = []byte("scopes")
	// scopeRevBucket maps scope -> revision of the scope's last change.
	scopeRevBucket = []byte("scope_revisions")
	// logBucket maps revision (8 bytes) + index (4 bytes) -> Change.
	logBucket = []byte("log")
	// revocationsBucket maps "id:<spiffe id>" or "serial:<hex>" ->
	// Revocation.
	revocationsBucket = []byte("revocations")

	keyRevision = []byte("revision")
)

var marshalOpts = proto.MarshalOptions{Deterministic: true}

// routesFill is the FillPercent of the scope buckets.
const routesFill = 0.9

// errRollback aborts an update transaction without reporting an error.
var errRollback = errors.New("store: rollback")

// Bolt is the embedded default Store: one bbolt file, fsynced on every
// commit, so an acknowledged write survives a crash of the process or the
// machine.
type Bolt struct {
	db  *bolt.DB
	now func() time.Time

	// mu serializes commits and subscriptions so that subscribers see every
	// commit once, in revision order.
	mu      sync.Mutex
	subs    map[int]func(Commit)                    // guarded by mu
	revSubs map[int]func([]*routecastv1.Revocation) // guarded by mu
	nextSub int                                     // guarded by mu
	closed  bool                                    // guarded by mu
}

// OpenBolt opens or creates the bbolt file at path. It fails after a second
// if another process holds the file open.
func OpenBolt(path string) (*Bolt, error) {
	// The freelist is rebuilt from the pages when the file opens rather
	// than written at every commit: commits stay small as the file grows,
	// and durability does not change.
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: %s is locked by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{metaBucket, scopesBucket, scopeRevBucket, logBucket, revocationsBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: initialize %s: %w", path, err)
	}
	return &Bolt{
		db: db, now: time.Now,
		subs:    make(map[int]func(Commit)),
		revSubs: make(map[int]func([]*routecastv1.Revocation)),
	}, nil
}

// Path returns the file the store was opened from.
func (s *Bolt) Path() string { return s.db.Path() }

// Close closes the file.
func (s *Bolt) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

// Apply commits b to scope. See Store.
func (s *Bolt) Apply(ctx context.Context, scope string, b Batch) (Result, error) {
	if err := checkBatch(scope, b); err != nil {
		return Result{}, err
	}
	puts, err := encodePuts(scope, b.Puts)
	if err != nil {
		return Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Result{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	a := &boltApply{scope: scope, batch: b, pending: puts, now: s.now()}
	err = s.db.Update(a.run)
	switch {
	case errors.Is(err, errRollback):
		return a.result, nil
	case err != nil:
		return Result{}, err
	}
	commit := Commit{Revision: a.result.Revision, Scope: scope, Puts: a.puts, Deletes: a.result.Deleted, Time: a.now}
	for _, fn := range s.subs {
		fn(commit)
	}
	return a.result, nil
}

// boltApply is the state of one Apply transaction.
type boltApply struct {
	scope   string
	batch   Batch
	pending []pendingPut // the batch's puts, encoded, in name order
	now     time.Time

	tx      *bolt.Tx
	routes  *bolt.Bucket
	current uint64
	result  Result
	puts    []StoredRoute
	changes []change
}

func (a *boltApply) run(tx *bolt.Tx) error {
	a.tx = tx
	a.current = readRevision(tx)
	a.result.Revision = a.current
	var err error
	if a.routes, err = tx.Bucket(scopesBucket).CreateBucketIfNotExists([]byte(a.scope)); err != nil {
		return err
	}
	// Pages split when they outgrow FillPercent of a page. Routes mostly
	// arrive in name order (a batch is written sorted) or replace ones of
	// the same size, so nearly full pages mean half as many to write as
	// bbolt's default of a half.
	a.routes.FillPercent = routesFill

	if err := a.checkExpected(); err != nil {
		return err
	}
	if err := a.applyPuts(); err != nil {
		return err
	}
	if err := a.applyDeletes(); err != nil {
		return err
	}
	if len(a.changes) == 0 || a.batch.DryRun {
		if a.batch.DryRun && len(a.changes) > 0 {
			a.result.Revision = a.current + 1
		}
		return errRollback
	}
	return a.finish()
}

func (a *boltApply) checkExpected() error {
	for name, want := range a.batch.Expected {
		var have uint64
		if v := a.routes.Get([]byte(name)); v != nil {
			r, err := decodeRoute(v)
			if err != nil {
				return err
			}
			have = r.GetVersion()
		}
		if have != want {
			return fmt.Errorf("%w: route %q is at version %d, not %d", ErrConflict, name, have, want)
		}
	}
	return nil
}

func (a *boltApply) applyPuts() error {
	rev := a.current + 1
	for _, p := range a.pending {
		key := []byte(p.name)
		old := a.routes.Get(key)
		switch {
		case old == nil:
			a.result.Created = append(a.result.Created, p.name)
		case isStoredBody(old, p.body):
			a.result.Unchanged++
			continue
		default:
			a.result.Updated = append(a.result.Updated, p.name)
		}
		data := withVersion(p.body, rev)
		if err := a.routes.Put(key, data); err != nil {
			return err
		}
		a.puts = append(a.puts, StoredRoute{Name: p.name, Version: rev, Bytes: data})
		a.changes = append(a.changes, change{name: p.name, kind: routecastv1.ChangeKind_CHANGE_KIND_PUT, route: data})
	}
	return nil
}

// pendingPut is a route of a batch encoded for its scope without a
// version.
type pendingPut struct {
	name string
	body []byte
}

// encodePuts encodes the routes of a batch as stored in scope, with the
// version left out, and returns them in name order. It is the costliest
// step of a large batch and needs neither the store's lock nor a
// transaction, so it runs before both, on every CPU. The caller's routes
// are not changed.
func encodePuts(scope string, rs []*routecastv1.Route) ([]pendingPut, error) {
	out := make([]pendingPut, len(rs))
	_, err := parallel.Each(len(rs), func(i int) error {
		body, err := encodeBody(scope, rs[i])
		if err != nil {
			return fmt.Errorf("store: encode route %q: %w", rs[i].GetName(), err)
		}
		out[i] = pendingPut{name: rs[i].GetName(), body: body}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(x, y pendingPut) int { return strings.Compare(x.name, y.name) })
	return out, nil
}

// encodeBody returns the deterministic encoding of r in scope at version
// zero, with room to append a version: what proto.Marshal with
// Deterministic set gives for a copy of r with that scope. It writes the
// route's own fields in number order and leaves only the nested messages
// to protobuf, whose deterministic encoding of the labels map, through
// reflection, would cost more than the rest of the route. The caller's
// route is not changed.
func encodeBody(scope string, r *routecastv1.Route) ([]byte, error) {
	if err := checkUTF8(scope, r); err != nil {
		return nil, err
	}
	nested := &routecastv1.Route{
		Match: r.GetMatch(), Upstream: r.GetUpstream(), Filters: r.GetFilters(), Policy: r.GetPolicy(),
	}
	keys := slices.Sorted(maps.Keys(r.GetLabels()))
	size := stringFieldSize(r.GetName()) + stringFieldSize(scope) + marshalOpts.Size(nested) +
		stringFieldSize(r.GetOwner()) + len(r.ProtoReflect().GetUnknown()) + maxVersionLen
	for _, k := range keys {
		v := r.GetLabels()[k]
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("labels[%q]: string field contains invalid UTF-8", k)
		}
		size += 1 + protowire.SizeBytes(labelEntrySize(k, v))
	}
	b := make([]byte, 0, size)
	b = appendStringField(b, routeNameField, r.GetName())
	b = appendStringField(b, routeScopeField, scope)
	b, err := marshalOpts.MarshalAppend(b, nested)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		v := r.GetLabels()[k]
		b = protowire.AppendTag(b, routeLabelsField, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(labelEntrySize(k, v)))
		b = protowire.AppendTag(b, mapKeyField, protowire.BytesType)
		b = protowire.AppendString(b, k)
		b = protowire.AppendTag(b, mapValueField, protowire.BytesType)
		b = protowire.AppendString(b, v)
	}
	b = appendStringField(b, routeOwnerField, r.GetOwner())
	return append(b, r.ProtoReflect().GetUnknown()...), nil
}

// checkUTF8 refuses what proto.Marshal would: a string field of the
// route's own that is not valid UTF-8. encodeBody checks the labels as it
// sizes them; strings of the nested messages are protobuf's to check.
func checkUTF8(scope string, r *routecastv1.Route) error {
	for _, f := range [...]struct{ field, s string }{{"name", r.GetName()}, {"scope", scope}, {"owner", r.GetOwner()}} {
		if !utf8.ValidString(f.s) {
			return fmt.Errorf("%s: string field contains invalid UTF-8", f.field)
		}
	}
	return nil
}

// stringFieldSize is the size of a string field of Route: a one-byte
// tag, the length and the bytes.
func stringFieldSize(s string) int {
	return 1 + protowire.SizeBytes(len(s))
}

// appendStringField appends a proto3 string field, which is left out when
// empty.
func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// labelEntrySize is the size of a labels map entry's content. A map
// entry always carries both its key and its value, even empty ones.
func labelEntrySize(k, v string) int {
	return 2 + protowire.SizeBytes(len(k)) + protowire.SizeBytes(len(v))
}

// The encoding shortcuts of the store rely on Route's field numbers; a
// deterministic encoding writes fields in number order, so a route's
// version, the last field, can be appended to its encoding.
const (
	routeNameField    = 1
	routeScopeField   = 2
	routeLabelsField  = 7
	routeOwnerField   = 8
	routeVersionField = 9

	mapKeyField   = 1
	mapValueField = 2
)

// maxVersionLen is the longest encoding of the version field: its tag
// and a 10-byte varint.
const maxVersionLen = 11

// withVersion returns body, an encoded route without a version, with the
// version field appended: what a deterministic encoding of the route at
// that version gives, since version has the highest field number. It
// appends in place when body has room.
func withVersion(body []byte, version uint64) []byte {
	if version == 0 {
		return body
	}
	body = protowire.AppendTag(body, routeVersionField, protowire.VarintType)
	return protowire.AppendVarint(body, version)
}

// isStoredBody reports whether stored is body at some version: the
// stored route is the same as the one body encodes, apart from the
// version.
func isStoredBody(stored, body []byte) bool {
	rest, ok := bytes.CutPrefix(stored, body)
	if !ok {
		return false
	}
	if len(rest) == 0 {
		return true
	}
	num, typ, n := protowire.ConsumeTag(rest)
	if num != routeVersionField || typ != protowire.VarintType {
		return false
	}
	_, m := protowire.ConsumeVarint(rest[n:])
	return m > 0 && n+m == len(rest)
}

// change is a change-log entry of a batch: what differs between the
// entries of one commit. route holds the route's bytes as stored, which
// the entry embeds without encoding the route again.
type change struct {
	name  string
	kind  routecastv1.ChangeKind
	route []byte
}

// encode returns the entry's bytes: common, the encoded Change fields
// every entry of the commit shares, then the entry's own name, kind and
// route. A decoder takes fields in any order, so this decodes as the
// whole Change.
func (c change) encode(common []byte) []byte {
	b := make([]byte, 0, len(common)+len(c.name)+len(c.route)+16)
	b = append(b, common...)
	b = protowire.AppendTag(b, changeNameField, protowire.BytesType)
	b = protowire.AppendString(b, c.name)
	b = protowire.AppendTag(b, changeKindField, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(c.kind))
	if c.route != nil {
		b = protowire.AppendTag(b, changeRouteField, protowire.BytesType)
		b = protowire.AppendBytes(b, c.route)
	}
	return b
}

// The numbers of the Change fields that differ between the entries of a
// commit.
const (
	changeNameField  = 3
	changeKindField  = 4
	changeRouteField = 5
)

// storedVersion reads the version field of an encoded route without
// decoding the rest.
func storedVersion(b []byte) uint64 {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0
		}
		b = b[n:]
		if num == routeVersionField && typ == protowire.VarintType {
			v, _ := protowire.ConsumeVarint(b)
			return v
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return 0
		}
		b = b[n:]
	}
	return 0
}

func (a *boltApply) applyDeletes() error {
	deletes := slices.Clone(a.batch.Deletes)
	for _, name := range deletes {
		if a.routes.Get([]byte(name)) == nil {
			return fmt.Errorf("%w: route %q in scope %q", ErrNotFound, name, a.scope)
		}
	}
	if a.batch.Prune {
		keep := make(map[string]bool, len(a.batch.Puts))
		for _, r := range a.batch.Puts {
			keep[r.GetName()] = true
		}
		err := a.routes.ForEach(func(k, _ []byte) error {
			if !keep[string(k)] {
				deletes = append(deletes, string(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	slices.Sort(deletes)
	for _, name := range slices.Compact(deletes) {
		if err := a.routes.Delete([]byte(name)); err != nil {
			return err
		}
		a.result.Deleted = append(a.result.Deleted, name)
		a.changes = append(a.changes, change{name: name, kind: routecastv1.ChangeKind_CHANGE_KIND_DELETE})
	}
	return nil
}

// finish bumps the revision and writes the change log.
func (a *boltApply) finish() error {
	rev := a.current + 1
	a.result.Revision = rev
	if err := a.tx.Bucket(metaBucket).Put(keyRevision, u64(rev)); err != nil {
		return err
	}
	if err := a.tx.Bucket(scopeRevBucket).Put([]byte(a.scope), u64(rev)); err != nil {
		return err
	}
	if k, _ := a.routes.Cursor().First(); k == nil {
		if err := a.tx.Bucket(scopesBucket).DeleteBucket([]byte(a.scope)); err != nil {
			return err
		}
	}
	log := a.tx.Bucket(logBucket)
	// The log's keys only grow, so its pages never take an insert later:
	// fill them.
	log.FillPercent = 1
	common, err := marshalOpts.Marshal(&routecastv1.Change{
		Revision: rev, Scope: a.scope, Actor: a.batch.Actor, Time: timestamppb.New(a.now),
	})
	if err != nil {
		return fmt.Errorf("store: encode change: %w", err)
	}
	for i, c := range a.changes {
		if err := log.Put(logKey(rev, uint32(i)), c.encode(common)); err != nil {
			return err
		}
	}
	return nil
}

// Get returns one route. See Store.
func (s *Bolt) Get(ctx context.Context, scope, name string) (*routecastv1.Route, error) {
	var r *routecastv1.Route
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(scopesBucket).Bucket([]byte(scope))
		var v []byte
		if b != nil {
			v = b.Get([]byte(name))
		}
		if v == nil {
			return fmt.Errorf("%w: route %q in scope %q", ErrNotFound, name, scope)
		}
		var err error
		r, err = decodeRoute(v)
		return err
	})
	return r, err
}

// List returns a page of a scope's routes. See Store.
func (s *Bolt) List(ctx context.Context, scope, after string, limit int) ([]*routecastv1.Route, uint64, error) {
	var (
		out []*routecastv1.Route
		rev uint64
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		rev = readRevision(tx)
		b := tx.Bucket(scopesBucket).Bucket([]byte(scope))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && after != "" && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			r, err := decodeRoute(v)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	return out, rev, err
}

// Scopes lists the scopes that hold routes. See Store.
func (s *Bolt) Scopes(ctx context.Context) ([]ScopeInfo, error) {
	var out []ScopeInfo
	err := s.view(ctx, func(tx *bolt.Tx) error {
		revs := tx.Bucket(scopeRevBucket)
		return tx.Bucket(scopesBucket).ForEachBucket(func(k []byte) error {
			n := tx.Bucket(scopesBucket).Bucket(k).Stats().KeyN
			out = append(out, ScopeInfo{Scope: string(k), Routes: n, Revision: readU64(revs.Get(k))})
			return nil
		})
	})
	return out, err
}

// Revision returns the current revision. See Store.
func (s *Bolt) Revision(ctx context.Context) (uint64, error) {
	var rev uint64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		rev = readRevision(tx)
		return nil
	})
	return rev, err
}

// Changes reads the change log. See Store.
func (s *Bolt) Changes(ctx context.Context, after LogPosition, limit int, f ChangeFilter) ([]*routecastv1.Change, LogPosition, error) {
	var out []*routecastv1.Change
	last := after
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(logBucket).Cursor()
		start := logKey(after.Revision, after.Index)
		k, v := c.Seek(start)
		if bytes.Equal(k, start) {
			k, v = c.Next()
		}
		for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			ch := new(routecastv1.Change)
			if err := proto.Unmarshal(v, ch); err != nil {
				return fmt.Errorf("store: decode change log entry: %w", err)
			}
			if f.match(ch) {
				out = append(out, ch)
				last = logPositionOf(k)
			}
		}
		return nil
	})
	return out, last, err
}

// logPositionOf reads a change log key.
func logPositionOf(key []byte) LogPosition {
	return LogPosition{Revision: binary.BigEndian.Uint64(key), Index: binary.BigEndian.Uint32(key[8:])}
}

// Subscribe snapshots the store and registers fn. See Store.
func (s *Bolt) Subscribe(ctx context.Context, fn func(Commit)) (Snapshot, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Snapshot{}, nil, ErrClosed
	}
	snap := Snapshot{Scopes: make(map[string][]StoredRoute), ScopeRevisions: make(map[string]uint64)}
	err := s.db.View(func(tx *bolt.Tx) error {
		snap.Revision = readRevision(tx)
		err := tx.Bucket(scopeRevBucket).ForEach(func(k, v []byte) error {
			snap.ScopeRevisions[string(k)] = readU64(v)
			return nil
		})
		if err != nil {
			return err
		}
		scopes := tx.Bucket(scopesBucket)
		return scopes.ForEachBucket(func(k []byte) error {
			return scopes.Bucket(k).ForEach(func(name, v []byte) error {
				// The value lives in the mmap only for the transaction.
				r := StoredRoute{Name: string(name), Version: storedVersion(v), Bytes: slices.Clone(v)}
				snap.Scopes[string(k)] = append(snap.Scopes[string(k)], r)
				return nil
			})
		})
	})
	if err != nil {
		return Snapshot{}, nil, err
	}
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	cancel := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.subs, id)
	}
	return snap, cancel, nil
}

func (s *Bolt) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// checkBatch rejects batches that no store could commit as given.
func checkBatch(scope string, b Batch) error {
	if scope == "" {
		return fmt.Errorf("%w: empty scope", ErrInvalid)
	}
	seen := make(map[string]bool, len(b.Puts))
	for _, r := range b.Puts {
		switch {
		case r.GetName() == "":
			return fmt.Errorf("%w: route without a name", ErrInvalid)
		case seen[r.GetName()]:
			return fmt.Errorf("%w: route %q put twice", ErrInvalid, r.GetName())
		}
		seen[r.GetName()] = true
	}
	for _, name := range b.Deletes {
		if seen[name] {
			return fmt.Errorf("%w: route %q both put and deleted", ErrInvalid, name)
		}
	}
	return nil
}

func decodeRoute(v []byte) (*routecastv1.Route, error) {
	r := new(routecastv1.Route)
	if err := proto.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("store: decode route: %w", err)
	}
	return r, nil
}

func readRevision(tx *bolt.Tx) uint64 {
	return readU64(tx.Bucket(metaBucket).Get(keyRevision))
}

func readU64(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func u64(n uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, n)
}

func logKey(rev uint64, i uint32) []byte {
	return binary.BigEndian.AppendUint32(u64(rev), i)
}

// Revoke stores a revocation. See Store.
func (s *Bolt) Revoke(ctx context.Context, r *routecastv1.Revocation) error {
	key, err := TargetOf(r).key()
	if err != nil {
		return err
	}
	data, err := marshalOpts.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: encode revocation: %w", err)
	}
	return s.changeRevocations(ctx, func(b *bolt.Bucket) error { return b.Put(key, data) })
}

// Unrevoke deletes a revocation. See Store.
func (s *Bolt) Unrevoke(ctx context.Context, t RevocationTarget) error {
	key, err := t.key()
	if err != nil {
		return err
	}
	return s.changeRevocations(ctx, func(b *bolt.Bucket) error {
		if b.Get(key) == nil {
			return fmt.Errorf("%w: no revocation of %s", ErrNotFound, key)
		}
		return b.Delete(key)
	})
}

// changeRevocations runs fn on the revocations bucket in a write
// transaction and tells the watchers.
func (s *Bolt) changeRevocations(ctx context.Context, fn func(*bolt.Bucket) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var list []*routecastv1.Revocation
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(revocationsBucket)
		if err := fn(b); err != nil {
			return err
		}
		var err error
		list, err = readRevocations(b)
		return err
	})
	if err != nil {
		return err
	}
	for _, fn := range s.revSubs {
		fn(list)
	}
	return nil
}

// Revocations lists the revocations. See Store.
func (s *Bolt) Revocations(ctx context.Context) ([]*routecastv1.Revocation, error) {
	var list []*routecastv1.Revocation
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		list, err = readRevocations(tx.Bucket(revocationsBucket))
		return err
	})
	return list, err
}

// WatchRevocations lists the revocations and registers fn. See Store.
func (s *Bolt) WatchRevocations(ctx context.Context, fn func([]*routecastv1.Revocation)) ([]*routecastv1.Revocation, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, ErrClosed
	}
	var list []*routecastv1.Revocation
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		list, err = readRevocations(tx.Bucket(revocationsBucket))
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	id := s.nextSub
	s.nextSub++
	s.revSubs[id] = fn
	cancel := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.revSubs, id)
	}
	return list, cancel, nil
}

// readRevocations decodes the bucket; keys sort "id:" before "serial:".
func readRevocations(b *bolt.Bucket) ([]*routecastv1.Revocation, error) {
	var list []*routecastv1.Revocation
	err := b.ForEach(func(_, v []byte) error {
		r := new(routecastv1.Revocation)
		if err := proto.Unmarshal(v, r); err != nil {
			return fmt.Errorf("store: decode revocation: %w", err)
		}
		list = append(list, r)
		return nil
	})
	return list, err
}
