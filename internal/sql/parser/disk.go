package parser

import (
	"net"
	"path"
	"strconv"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Disks (issue 13): CREATE DISK, DROP DISK and SHOW DISKS. A disk's
// options are checked here, where their positions are known: a key that
// is not a disk option, one given twice, one of the wrong type, one that
// does not apply to the disk's type and a required one left out are each
// an error with a hint, never accepted and ignored. Whether the store
// works is the session's check (it opens it before proposing the disk).

// Disk types (CreateDisk.Type).
const (
	DiskS3   = "s3"
	DiskFile = "file"
)

// CreateDisk is `CREATE DISK [IF NOT EXISTS] name (option = value, ...)`
// with its options checked: Type is DiskS3 (Endpoint, Bucket, AccessKeyID
// and SecretAccessKey set; Region, Prefix and TLS optional) or DiskFile
// (Path set, absolute and clean; nothing else). SecretAccessKey is kept as
// given (Format must round-trip); whatever logs or echoes statement text
// masks it with Redact.
type CreateDisk struct {
	P               int
	Name            string
	IfNotExists     bool
	Type            string
	Path            string
	Endpoint        string // host or host:port, no scheme, no path
	Bucket          string
	Region          string // "": the client asks the server for the bucket's region
	AccessKeyID     string
	SecretAccessKey string
	Prefix          string
	TLS             *bool // nil: not given (http)
}

// DropDisk is `DROP DISK [IF EXISTS] name [, ...]`.
type DropDisk struct {
	P        int
	Names    []string
	IfExists bool
}

func (*CreateDisk) stmt() {}
func (*DropDisk) stmt()   {}

// AuditKind makes the disk statements audit events of kind "sql" (the
// session's AuditKinder).
func (*CreateDisk) AuditKind() string { return "sql" }

// AuditKind: see CreateDisk.AuditKind.
func (*DropDisk) AuditKind() string { return "sql" }

// diskOptions lists the options of each disk type, in Format's order;
// required ones first.
var diskOptions = map[string][]string{
	DiskS3:   {"type", "endpoint", "bucket", "access_key_id", "secret_access_key", "region", "prefix", "tls"},
	DiskFile: {"type", "path"},
}

// diskRequired is how many of a type's diskOptions are required.
var diskRequired = map[string]int{DiskS3: 5, DiskFile: 2}

// diskExample is a complete statement of each type, for hints.
var diskExample = map[string]string{
	DiskS3:   "CREATE DISK d (type = 's3', endpoint = 'host:9000', bucket = 'b', access_key_id = '…', secret_access_key = '…')",
	DiskFile: "CREATE DISK d (type = 'file', path = '/mnt/shared/cairn')",
}

// parseDiskStatement parses CREATE DISK, DROP DISK and SHOW DISKS; ok is
// false when the statement is none of them. SHOW DISKS is a ShowObjects
// of kind "disks".
func (p *parser) parseDiskStatement() (Statement, bool, error) {
	switch {
	case p.isKws("create", "disk"):
		s, err := p.parseCreateDisk()
		return s, true, err
	case p.isKws("drop", "disk"):
		start := p.next()
		p.next()
		d := &DropDisk{P: start.pos, IfExists: p.acceptKws("if", "exists")}
		var err error
		if d.Names, err = p.nameList(); err != nil {
			return nil, true, err
		}
		return d, true, nil
	case p.isKws("show", "disks"):
		start := p.next()
		p.next()
		return &ShowObjects{P: start.pos, Kind: "disks"}, true, nil
	}
	return nil, false, nil
}

// diskOpt is one option as written.
type diskOpt struct {
	key string
	tok token // the key's token (for positions)
	val Expr
}

func (p *parser) parseCreateDisk() (Statement, error) {
	start := p.next()
	p.next() // DISK
	cd := &CreateDisk{P: start.pos, IfNotExists: p.ifNotExists()}
	var err error
	if cd.Name, err = p.name(); err != nil {
		return nil, err
	}
	if !p.isOp("(") {
		if t := p.peek(); t.kind == tEOF || isKwTok(t, "with") {
			return nil, p.diskErr(t, pgerr.DiskOptionsMissing.New(diskExample[DiskS3], diskExample[DiskFile]))
		}
	}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var opts []diskOpt
	seen := map[string]bool{}
	for {
		kt := p.peek()
		k, err := p.anyWord()
		if err != nil {
			return nil, err
		}
		if seen[k] {
			return nil, p.diskErr(kt, pgerr.DiskOptionRepeated.New(k))
		}
		seen[k] = true
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		v, err := p.parseOptionValue()
		if err != nil {
			return nil, err
		}
		opts = append(opts, diskOpt{key: k, tok: kt, val: v})
		if !p.acceptOp(",") {
			break
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	if err := p.checkDiskOptions(cd, start, opts); err != nil {
		return nil, err
	}
	return cd, nil
}

// checkDiskOptions fills cd from opts, checking them.
func (p *parser) checkDiskOptions(cd *CreateDisk, start token, opts []diskOpt) error {
	// The type first: it decides which options apply.
	var typeOpt *diskOpt
	for i := range opts {
		if opts[i].key == "type" {
			typeOpt = &opts[i]
		}
	}
	if typeOpt == nil {
		return p.diskErr(start, pgerr.DiskTypeMissing.New(diskExample[DiskS3], diskExample[DiskFile]))
	}
	switch l := typeOpt.val.(type) {
	case *Literal:
		if l.Kind == LitString {
			cd.Type = strings.ToLower(l.Val)
		}
	case *ColumnRef: // type = s3, a bare word
		cd.Type = l.Name
	}
	if diskOptions[cd.Type] == nil {
		return p.diskErrAt(typeOpt.val.Pos(), pgerr.DiskTypeUnknown.New(optionText(typeOpt.val)))
	}
	allowed := diskOptions[cd.Type]
	for _, o := range opts {
		if o.key == "type" {
			continue
		}
		if !setOf(allowed...)[o.key] {
			if setOf(diskOptions[DiskS3]...)[o.key] || setOf(diskOptions[DiskFile]...)[o.key] {
				return p.diskErr(o.tok, pgerr.DiskOptionNotFor.New(o.key, cd.Type, cd.Type, strings.Join(allowed[1:], ", ")))
			}
			return p.diskErr(o.tok, pgerr.DiskOptionUnknown.New(o.key, cd.Type, strings.Join(allowed[1:], ", ")))
		}
		if o.key == "tls" {
			b, ok := optionBool(o.val)
			if !ok {
				return p.diskErrAt(o.val.Pos(), pgerr.DiskOptionType.New(o.key, "true or false", optionText(o.val)))
			}
			cd.TLS = &b
			continue
		}
		l, ok := o.val.(*Literal)
		if !ok || l.Kind != LitString {
			got := optionText(o.val)
			if isSecretKey(o.key) {
				got = "a value without quotes" // never echo a secret
			}
			return p.diskErrAt(o.val.Pos(), pgerr.DiskOptionType.New(o.key, "a string in single quotes", got))
		}
		if l.Val == "" {
			return p.diskErrAt(o.val.Pos(), pgerr.DiskOptionEmpty.New(o.key))
		}
		if err := p.setDiskOption(cd, o.key, l); err != nil {
			return err
		}
	}
	for _, k := range allowed[1:diskRequired[cd.Type]] {
		if !diskOptionSet(cd, k) {
			return p.diskErr(start, pgerr.DiskOptionRequired.New(cd.Type, k, diskExample[cd.Type]))
		}
	}
	return nil
}

// setDiskOption checks and records one string option.
func (p *parser) setDiskOption(cd *CreateDisk, key string, l *Literal) error {
	v := l.Val
	switch key {
	case "path":
		if !strings.HasPrefix(v, "/") {
			return p.diskErrAt(l.P, pgerr.DiskPathRelative.New(v))
		}
		cd.Path = path.Clean(v)
	case "endpoint":
		if hostPort, tls, ok := endpointOf(v); !ok {
			suggestion := "host:port"
			if hostPort != "" {
				suggestion = QuoteString(hostPort)
			}
			return p.diskErrAt(l.P, pgerr.DiskEndpointForm.New(v, suggestion, strconv.FormatBool(tls)))
		}
		cd.Endpoint = v
	case "bucket":
		if !validBucket(v) {
			return p.diskErrAt(l.P, pgerr.DiskBucketName.New(v))
		}
		cd.Bucket = v
	case "region":
		cd.Region = v
	case "access_key_id":
		cd.AccessKeyID = v
	case "secret_access_key":
		cd.SecretAccessKey = v
	case "prefix":
		if !validPrefix(v) {
			return p.diskErrAt(l.P, pgerr.DiskPrefixForm.New(v))
		}
		cd.Prefix = v
	}
	return nil
}

func diskOptionSet(cd *CreateDisk, key string) bool {
	switch key {
	case "path":
		return cd.Path != ""
	case "endpoint":
		return cd.Endpoint != ""
	case "bucket":
		return cd.Bucket != ""
	case "access_key_id":
		return cd.AccessKeyID != ""
	case "secret_access_key":
		return cd.SecretAccessKey != ""
	}
	return true
}

// endpointOf checks an S3 endpoint: host or host:port (a bracketed IPv6
// address with a port), nothing else. When v is a URL, hostPort is what
// should have been given and tls whether its scheme was https.
func endpointOf(v string) (hostPort string, tls bool, ok bool) {
	rest := v
	scheme := false
	if i := strings.Index(rest, "://"); i >= 0 {
		tls = strings.EqualFold(rest[:i], "https")
		rest = rest[i+3:]
		scheme = true
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
		scheme = true // a path: not accepted either
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 { // user info
		rest = rest[i+1:]
		scheme = true
	}
	if !validHostPort(rest) {
		return "", tls, false
	}
	return rest, tls, !scheme
}

func validHostPort(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n\\") {
		return false
	}
	host := s
	if strings.Contains(s, ":") {
		h, port, err := net.SplitHostPort(s)
		if err != nil {
			return false
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return false
		}
		host = h
	}
	return host != ""
}

// validBucket follows S3's bucket naming rules: 3 to 63 characters of
// lower-case letters, digits, dots and hyphens, starting and ending with
// a letter or digit.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && c != '.' && c != '-' {
			return false
		}
		if (i == 0 || i == len(b)-1) && !alnum {
			return false
		}
	}
	return !strings.Contains(b, "..")
}

// validPrefix: names separated by '/', none empty, '.' or '..', no
// control characters or backslashes (the object store's key rules).
func validPrefix(s string) bool {
	if len(s) > 512 {
		return false
	}
	for _, part := range strings.Split(s, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// optionBool reads true/false/on/off, bare or quoted.
func optionBool(e Expr) (bool, bool) {
	var w string
	switch l := e.(type) {
	case *Literal:
		if l.Kind != LitBool && l.Kind != LitString {
			return false, false
		}
		w = strings.ToLower(l.Val)
	case *ColumnRef:
		w = l.Name
	}
	switch w {
	case "true", "on":
		return true, true
	case "false", "off":
		return false, true
	}
	return false, false
}

// optionText is an option value as the user wrote it, for messages.
func optionText(e Expr) string {
	switch l := e.(type) {
	case *Literal:
		if l.Kind == LitString {
			return QuoteString(l.Val)
		}
		return l.Val
	case *ColumnRef:
		return l.Name
	}
	return "?"
}

func (p *parser) diskErr(t token, e *pgerr.Error) *Error { return p.diskErrAt(t.pos, e) }

// diskErrAt makes e a parse error at statement position pos.
func (p *parser) diskErrAt(pos int, e *pgerr.Error) *Error {
	return &Error{Pos: pos + p.base, Code: e.Code, Msg: e.Message, Hint: e.Hint}
}

// formatDiskStmt prints the disk statements; false for any other.
func formatDiskStmt(b *strings.Builder, s Statement) bool {
	switch s := s.(type) {
	case *CreateDisk:
		b.WriteString("CREATE DISK ")
		if s.IfNotExists {
			b.WriteString("IF NOT EXISTS ")
		}
		b.WriteString(QuoteIdent(s.Name))
		b.WriteString(" (type = ")
		b.WriteString(QuoteString(s.Type))
		opt := func(k, v string) {
			if v != "" {
				b.WriteString(", " + k + " = " + QuoteString(v))
			}
		}
		opt("path", s.Path)
		opt("endpoint", s.Endpoint)
		opt("bucket", s.Bucket)
		opt("region", s.Region)
		opt("access_key_id", s.AccessKeyID)
		opt("secret_access_key", s.SecretAccessKey)
		opt("prefix", s.Prefix)
		if s.TLS != nil {
			b.WriteString(", tls = " + strconv.FormatBool(*s.TLS))
		}
		b.WriteByte(')')
		return true
	case *DropDisk:
		formatDropNames(b, "DISK", s.IfExists, s.Names)
		return true
	}
	return false
}

// formatDropNames writes DROP <kind> [IF EXISTS] a, b for the statements
// that drop a list of plain names (disks, alerts, schedules).
func formatDropNames(b *strings.Builder, kind string, ifExists bool, names []string) {
	b.WriteString("DROP " + kind + " ")
	if ifExists {
		b.WriteString("IF EXISTS ")
	}
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(n))
	}
}
