package catalog

import (
	"encoding/json"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Command is one change to the catalog, proposed to the meta group. Each
// kind of change is its own type; Encode gives its wire form, a tagged
// envelope ({"op": "create_stream", "stream": {...}}) that is the same,
// byte for byte, as the one written before commands were typed, so a node
// replays the raft log entries of older binaries.
type Command interface {
	// apply changes c in place. It is deterministic: every decision
	// depends only on c and the command.
	apply(c *Catalog) *Result
	// envelope returns the command's wire form.
	envelope() *envelope
}

// The commands.
type (
	// Init names the cluster and records its bootstrap node, once.
	Init struct {
		ClusterID string
		Node      *Node
	}
	// AddNode records a node joining, or a node coming back on (maybe)
	// new addresses. Restart: the node's own registration after a
	// restart, which ends a drain.
	AddNode struct {
		Node    *Node
		Restart bool
	}
	// CreateStream creates a stream (its Groups are assigned here).
	CreateStream struct {
		Stream      *Stream
		IfNotExists bool
	}
	// CreateView creates a view over a stream.
	CreateView struct {
		View        *View
		IfNotExists bool
	}
	// DropStreams drops streams; with Cascade, the views over them too.
	DropStreams struct {
		Names    []string
		IfExists bool
		Cascade  bool
	}
	// DropViews drops views; with Cascade, the views over them too.
	DropViews struct {
		Names    []string
		IfExists bool
		Cascade  bool
	}
	// SetSetting sets a cluster setting; a nil Value resets it.
	SetSetting struct {
		Key   string
		Value *string
	}
	// SetNodeState sets an operator state (NodeDraining, …; "" for none).
	SetNodeState struct {
		Node  string
		State string
	}
	// RemoveNode forgets a node that holds no replicas, for good.
	RemoveNode struct {
		Node string
	}
	// CreateOperation records a new operation (its ID is assigned here).
	CreateOperation struct {
		Operation *Operation
	}
	// UpdateOperation records an active operation's status, progress and
	// step; Cancel: an operator's cancel.
	UpdateOperation struct {
		Operation *Operation
		Cancel    bool
	}
	// SetPlacement sets a shard's replica list; Added, if set, is a node
	// joining the running group.
	SetPlacement struct {
		Group uint64   `json:"group"`
		Nodes []uint64 `json:"nodes"`
		Added uint64   `json:"added,omitempty"`
	}
)

// envelope is the wire form of every command: the tag in Op and the body
// in the fields that command uses. Field order and tags are those of the
// untyped command this replaced; do not change them.
type envelope struct {
	Op          string        `json:"op"`
	Node        *Node         `json:"node,omitempty"`
	Stream      *Stream       `json:"stream,omitempty"`
	View        *View         `json:"view,omitempty"`
	Names       []string      `json:"names,omitempty"`
	IfExists    bool          `json:"if_exists,omitempty"`
	IfNotExists bool          `json:"if_not_exists,omitempty"`
	Cascade     bool          `json:"cascade,omitempty"`
	Key         string        `json:"key,omitempty"`
	Value       *string       `json:"value,omitempty"`
	Operation   *Operation    `json:"operation,omitempty"`
	Placement   *SetPlacement `json:"placement,omitempty"`
	Table       *Table        `json:"table,omitempty"`
	Alter       *AlterTable   `json:"alter,omitempty"`
	Authz       *authzBody    `json:"authz,omitempty"` // roles and grants (roles.go)
	Audit       []AuditEvent  `json:"audit,omitempty"`
	Elastic     *elasticBody  `json:"elastic,omitempty"` // disks, scheduled views, schedules (elastic.go)
	Alerts      *alertBody    `json:"alerts,omitempty"`  // alerts (alerts.go)
}

// Wire tags of the commands.
const (
	opInit            = "init"
	opAddNode         = "add_node"
	opCreateStream    = "create_stream"
	opCreateView      = "create_view"
	opDropStream      = "drop_stream"
	opDropView        = "drop_view"
	opSetSetting      = "set_setting"
	opSetNodeState    = "set_node_state"
	opRemoveNode      = "remove_node"
	opCreateOperation = "op_create"
	opUpdateOperation = "op_update"
	opSetPlacement    = "set_placement"
)

// keyRestart and keyCancel are the envelope's Key for AddNode.Restart and
// UpdateOperation.Cancel.
const (
	keyRestart = "restart"
	keyCancel  = "cancel"
)

func (c *Init) envelope() *envelope {
	e := &envelope{Op: opInit, Node: c.Node}
	if c.ClusterID != "" {
		e.Value = &c.ClusterID
	}
	return e
}

func (c *AddNode) envelope() *envelope {
	e := &envelope{Op: opAddNode, Node: c.Node}
	if c.Restart {
		e.Key = keyRestart
	}
	return e
}

func (c *CreateStream) envelope() *envelope {
	return &envelope{Op: opCreateStream, Stream: c.Stream, IfNotExists: c.IfNotExists}
}

func (c *CreateView) envelope() *envelope {
	return &envelope{Op: opCreateView, View: c.View, IfNotExists: c.IfNotExists}
}

func (c *DropStreams) envelope() *envelope {
	return &envelope{Op: opDropStream, Names: c.Names, IfExists: c.IfExists, Cascade: c.Cascade}
}

func (c *DropViews) envelope() *envelope {
	return &envelope{Op: opDropView, Names: c.Names, IfExists: c.IfExists, Cascade: c.Cascade}
}

func (c *SetSetting) envelope() *envelope {
	return &envelope{Op: opSetSetting, Key: c.Key, Value: c.Value}
}

func (c *SetNodeState) envelope() *envelope {
	e := &envelope{Op: opSetNodeState, Key: c.Node}
	if c.State != "" {
		e.Value = &c.State
	}
	return e
}

func (c *RemoveNode) envelope() *envelope { return &envelope{Op: opRemoveNode, Key: c.Node} }

func (c *CreateOperation) envelope() *envelope {
	return &envelope{Op: opCreateOperation, Operation: c.Operation}
}

func (c *UpdateOperation) envelope() *envelope {
	e := &envelope{Op: opUpdateOperation, Operation: c.Operation}
	if c.Cancel {
		e.Key = keyCancel
	}
	return e
}

func (c *SetPlacement) envelope() *envelope { return &envelope{Op: opSetPlacement, Placement: c} }

// command returns the typed command in e, or an error for an unknown tag
// or a command without the body it needs.
func (e *envelope) command() (Command, *pgerr.Error) {
	missing := func(what string) (Command, *pgerr.Error) {
		return nil, pgerr.CatalogIncomplete.New(e.Op, what)
	}
	if c, err, ok := e.tableCommand(); ok {
		return c, err
	}
	if c, ok := e.auditCommand(); ok {
		return c, nil
	}
	switch e.Op {
	case opInit:
		c := &Init{Node: e.Node}
		if e.Value != nil {
			c.ClusterID = *e.Value
		}
		return c, nil
	case opAddNode:
		if e.Node == nil {
			return missing("node")
		}
		return &AddNode{Node: e.Node, Restart: e.Key == keyRestart}, nil
	case opCreateStream:
		if e.Stream == nil {
			return missing("stream")
		}
		return &CreateStream{Stream: e.Stream, IfNotExists: e.IfNotExists}, nil
	case opCreateView:
		if e.View == nil {
			return missing("view")
		}
		return &CreateView{View: e.View, IfNotExists: e.IfNotExists}, nil
	case opDropStream:
		return &DropStreams{Names: e.Names, IfExists: e.IfExists, Cascade: e.Cascade}, nil
	case opDropView:
		return &DropViews{Names: e.Names, IfExists: e.IfExists, Cascade: e.Cascade}, nil
	case opSetSetting:
		return &SetSetting{Key: e.Key, Value: e.Value}, nil
	case opSetNodeState:
		c := &SetNodeState{Node: e.Key}
		if e.Value != nil {
			c.State = *e.Value
		}
		return c, nil
	case opRemoveNode:
		return &RemoveNode{Node: e.Key}, nil
	case opCreateOperation:
		if e.Operation == nil {
			return missing("operation")
		}
		return &CreateOperation{Operation: e.Operation}, nil
	case opUpdateOperation:
		if e.Operation == nil {
			return missing("operation")
		}
		return &UpdateOperation{Operation: e.Operation, Cancel: e.Key == keyCancel}, nil
	case opSetPlacement:
		if e.Placement == nil {
			return missing("placement")
		}
		return e.Placement, nil
	}
	if c, ok, err := e.schemaCommand(); ok {
		return c, err
	}
	if c, ok, err := e.authzCommand(); ok {
		return c, err
	}
	if c, ok, err := e.nodeSecCommand(); ok {
		return c, err
	}
	if c, ok, err := e.elasticCommand(); ok {
		return c, err
	}
	if c, ok, err := e.alertCommand(); ok { // alerts.go
		return c, err
	}
	if c, ok, err := e.weightCommand(); ok { // weight.go
		return c, err
	}
	return nil, pgerr.CatalogUnknownCmd.New(e.Op)
}

// Encode returns a command's wire form.
func Encode(c Command) []byte {
	b, err := json.Marshal(c.envelope())
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return b
}

// Decode reads a command's wire form (as written by Encode, or by the
// untyped commands of older binaries).
func Decode(b []byte) (Command, error) {
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	c, perr := e.command()
	if perr != nil {
		return nil, perr
	}
	return c, nil
}
