package jwtauth

// Strict, single-pass decoding of a compact JWS. golang-jwt's parser is lenient where RFC 8725 asks for strictness
// (encoding/json matches member names case-insensitively and keeps the last duplicate; NumericDate accepts quoted
// numbers), and it decodes the claims twice. This decoder reads header and payload once, refuses anything that is
// not exactly one well-formed JSON object per segment, and reads registered claims by their exact names.

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// b64dec maps the base64url alphabet (RFC 4648 §5) to its values; every other byte maps to 0xff.
var b64dec = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// b64quad[k] is b64dec shifted into the place of the k-th character of a four-character group, with
// b64bad set for bytes outside the alphabet: a group decodes with four lookups, three ORs and one check.
var b64quad = func() (t [4][256]uint32) {
	for c, v := range b64dec {
		for k := range t {
			if v == 0xff {
				t[k][c] = b64bad
			} else {
				t[k][c] = uint32(v) << (18 - 6*k)
			}
		}
	}
	return t
}()

const b64bad = 1 << 31

const (
	maxJSONDepth = 32
	// maxNumericDate is 9999-12-31T23:59:59Z: anything later is not a plausible date and would overflow time math.
	maxNumericDate = 253402300799
)

// rawToken is a token split into its segments, nothing decoded yet.
type rawToken struct {
	signingInput string // header.payload, what the signature covers
	header       string
	payload      string
	signature    string
}

// splitToken finds exactly two dots with no segment empty. The alphabet is checked as each segment is decoded.
func splitToken(tok string) (rawToken, bool) {
	d1 := strings.IndexByte(tok, '.')
	if d1 <= 0 {
		return rawToken{}, false
	}
	d2 := strings.IndexByte(tok[d1+1:], '.') + d1 + 1
	if d2 <= d1+1 || d2 == len(tok)-1 || strings.IndexByte(tok[d2+1:], '.') >= 0 {
		return rawToken{}, false
	}
	return rawToken{
		signingInput: tok[:d2],
		header:       tok[:d1],
		payload:      tok[d1+1 : d2],
		signature:    tok[d2+1:],
	}, true
}

// decodeSegment decodes one base64url segment into dst (grown if needed). It is strict where Go's decoder is
// not: no padding, no line breaks or other bytes outside the alphabet, and the unused bits of the last
// character must be zero, so each byte string has exactly one accepted encoding.
func decodeSegment(dst []byte, seg string) ([]byte, bool) {
	n := len(seg)
	if n%4 == 1 {
		return nil, false
	}
	// need+2: the loop below stores eight bytes for every six it decodes.
	need := n / 4 * 3
	if n%4 != 0 {
		need += n%4 - 1
	}
	if cap(dst) < need+2 {
		dst = make([]byte, 0, need+2)
	}
	out := dst[:need+2]
	in, o := seg, out
	// Eight characters at a time, stored as eight bytes of which the last two are overwritten by the next
	// group (or are slack): the per-request work of Verify is mostly this loop.
	for len(in) >= 8 && len(o) >= 8 {
		q := b64quad[0][in[0]] | b64quad[1][in[1]] | b64quad[2][in[2]] | b64quad[3][in[3]]
		r := b64quad[0][in[4]] | b64quad[1][in[5]] | b64quad[2][in[6]] | b64quad[3][in[7]]
		if (q|r)&b64bad != 0 {
			return nil, false
		}
		binary.BigEndian.PutUint64(o, uint64(q)<<40|uint64(r)<<16)
		in, o = in[8:], o[6:]
	}
	i, j := n-len(in), len(out)-len(o)
	if len(in) >= 4 {
		q := b64quad[0][in[0]] | b64quad[1][in[1]] | b64quad[2][in[2]] | b64quad[3][in[3]]
		if q&b64bad != 0 {
			return nil, false
		}
		out[j], out[j+1], out[j+2] = byte(q>>16), byte(q>>8), byte(q)
		i, j = i+4, j+3
	}
	switch n - i {
	case 2:
		a, b := b64dec[seg[i]], b64dec[seg[i+1]]
		if (a|b)&0xc0 != 0 || b&0x0f != 0 {
			return nil, false
		}
		out[j] = a<<2 | b>>4
	case 3:
		a, b, c := b64dec[seg[i]], b64dec[seg[i+1]], b64dec[seg[i+2]]
		if (a|b|c)&0xc0 != 0 || c&0x03 != 0 {
			return nil, false
		}
		out[j], out[j+1] = a<<2|b>>4, b<<4|c>>2
	}
	return out[:need], true
}

// header holds the JOSE header members jwtauth acts on. jku, x5u, jwk and x5c are deliberately not read:
// keys only ever come from the configured key source.
type header struct {
	alg, kid, typ string
	hasKID        bool
	hasTyp        bool
	crit          bool
}

// payload holds the registered claims, read by exact name only.
type payload struct {
	iss, sub, jti       string
	hasIss              bool
	audOne              string
	audMany             []string
	audIsArray, hasAud  bool
	exp, nbf, iat       float64
	hasExp, hasNbf      bool
	hasIat              bool
	scope               string
	hasScope            bool
	scpOne              string
	scpMany             []string
	hasScp, scpIsArray  bool
	permissions         []string
	hasCnf              bool
	cnf                 confirmation
	unusualNumericDates bool
}

// confirmation is the cnf claim (RFC 7800) as read: the methods jwtauth can check, and whether it names others.
type confirmation struct {
	x5t, jkt       string // x5t#S256 (RFC 8705 §3.1), jkt (RFC 9449 §6.1), as found
	hasX5t, hasJkt bool
	other          bool // a member of another name (jwk, kid, X5T#S256, ...): a binding nobody here can check
}

// parseError says what was wrong in a message that names no value from the token.
type parseError string

func (e parseError) Error() string { return string(e) }

// jsonReader is a strict JSON reader over one decoded segment.
type jsonReader struct {
	b   []byte
	i   int
	err parseError
}

func (r *jsonReader) fail(msg string) bool {
	if r.err == "" {
		r.err = parseError(msg)
	}
	return false
}

func (r *jsonReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// object reads a JSON object, calling member for each member with the raw (unescaped) name bytes; member must
// consume the value, and nil skips every value. Duplicate names are refused.
func (r *jsonReader) object(depth int, member func(name []byte) bool) bool {
	var m members
	if !r.openObject(depth, &m) {
		return false
	}
	for {
		name, ok := r.nextMember(&m)
		if !ok {
			return m.done
		}
		if member != nil {
			if !member(name) {
				return false
			}
		} else if !r.skip(depth + 1) {
			return false
		}
	}
}

// members is the state of one object being read with openObject and nextMember, the loop form of object
// that the header and payload readers use: without a callback the decoded segment can stay on the stack.
type members struct {
	n    int  // members read so far
	done bool // the closing brace was read
	// Names seen so far as offsets into the segment, with the fold key of each: the first rune folded as
	// encoding/json folds it. Only names whose keys collide are compared in full, so an object without such
	// names costs no more than an exact-duplicate check and allocates nothing.
	spans [16]struct{ start, end int32 }
	keys  [16]rune
	// folded holds the folded names instead once there are more than 16 or one of them had escapes (so
	// is not a span of the segment).
	folded map[string]struct{}
}

// openObject reads the opening brace of an object (and the closing one, when it is empty).
func (r *jsonReader) openObject(depth int, m *members) bool {
	if depth > maxJSONDepth {
		return r.fail("JSON nested too deeply")
	}
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return r.fail("expected a JSON object")
	}
	r.i++
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		m.done = true
	}
	return true
}

// nextMember reads the separator after the previous member's value, if any, and the next member's name and
// colon; r is then at the value, which the caller must consume. ok is false at the end of the object
// (m.done) and on an error (r.err).
func (r *jsonReader) nextMember(m *members) (name []byte, ok bool) {
	if m.done {
		return nil, false
	}
	r.ws()
	if m.n > 0 {
		if r.i >= len(r.b) {
			return nil, r.fail("unterminated object")
		}
		switch r.b[r.i] {
		case ',':
			r.i++
			r.ws()
		case '}':
			r.i++
			m.done = true
			return nil, false
		default:
			return nil, r.fail("expected ',' or '}' in an object")
		}
	}
	start := r.i + 1
	name, ok = r.stringBytes()
	if !ok {
		return nil, r.fail("expected a member name")
	}
	// Duplicates are names equal under encoding/json's case folding ("sub", "Sub", "ſub"): it reads
	// them all into one struct field, so Claims.Decode would see the last and the registered claims the first.
	escaped := r.i-1-start != len(name) // every escape is longer than what it stands for
	if m.folded == nil && (m.n == len(m.spans) || escaped) {
		m.folded = make(map[string]struct{}, 64)
		for k := range m.n {
			m.folded[string(appendFoldedName(nil, r.b[m.spans[k].start:m.spans[k].end]))] = struct{}{}
		}
	}
	if m.folded != nil {
		var fbuf [64]byte
		folded := appendFoldedName(fbuf[:0], name)
		if _, dup := m.folded[string(folded)]; dup {
			return nil, r.fail(errDuplicateName)
		}
		m.folded[string(folded)] = struct{}{}
	} else {
		key := foldKey(name)
		for k := range m.n {
			if m.keys[k] == key && bytes.EqualFold(r.b[m.spans[k].start:m.spans[k].end], name) {
				return nil, r.fail(errDuplicateName)
			}
		}
		m.keys[m.n] = key
		m.spans[m.n].start, m.spans[m.n].end = int32(start), int32(r.i-1)
	}
	m.n++
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != ':' {
		return nil, r.fail("expected ':' after a member name")
	}
	r.i++
	r.ws()
	return name, true
}

const errDuplicateName = "duplicate member name (names are compared ignoring case, as encoding/json matches them)"

// foldKey is the first rune of name folded as encoding/json folds it: equal names under that folding have
// equal keys. ASCII, the common case, needs no decoding.
func foldKey(name []byte) rune {
	if len(name) == 0 {
		return -1
	}
	if c := name[0]; c < utf8.RuneSelf {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		return rune(c)
	}
	r, _ := utf8.DecodeRune(name)
	return foldRune(r)
}

// appendFoldedName appends name folded as encoding/json folds member names (upper-case ASCII, and each other
// rune the smallest of its simple case folding orbit, so 'ſ' is 'S' and the Kelvin sign 'K'): two names fold
// equal exactly when bytes.EqualFold says they are equal.
func appendFoldedName(out, name []byte) []byte {
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

// foldRune returns the smallest rune of r's simple case folding orbit.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// caseVariantOf reports whether name folds equal to one of names without being it exactly: a member
// encoding/json would read as that registered claim while the strict reader does not.
func caseVariantOf(name []byte, names ...string) bool {
	for _, n := range names {
		// Folding changes a rune's length by at most 1 to 3 bytes (s and ſ, k and K), so most names are out at once.
		if len(name) < len(n) || len(name) > 3*len(n) || string(name) == n {
			continue
		}
		if bytes.EqualFold(name, []byte(n)) {
			return true
		}
	}
	return false
}

// end checks that nothing but whitespace follows the top-level value.
func (r *jsonReader) end() bool {
	r.ws()
	if r.i != len(r.b) {
		return r.fail("data after the JSON object")
	}
	return true
}

// stringBytes reads a JSON string and returns its unescaped bytes. Without escapes the result aliases the input.
func (r *jsonReader) stringBytes() ([]byte, bool) {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return nil, r.fail("expected a string")
	}
	r.i++
	start := r.i
	// Eight bytes at a time to the first quote, backslash or control character; the loop below reads it
	// (and reads the last bytes of the segment, fewer than eight).
	for r.i+8 <= len(r.b) {
		if m := specialBytes(binary.LittleEndian.Uint64(r.b[r.i:])); m != 0 {
			r.i += bits.TrailingZeros64(m) >> 3
			break
		}
		r.i += 8
	}
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			return s, true
		case c == '\\':
			return r.escapedString(start)
		case c < 0x20:
			return nil, r.fail("control character in a string")
		}
		r.i++
	}
	return nil, r.fail("unterminated string")
}

// specialBytes has the high bit set in the byte of x that is the first (lowest) '"', '\\' or byte below 0x20,
// and possibly in later ones; it is zero when there is none. These are the "haszero" and "hasless" bit tricks:
// a borrow only ever runs upwards from a byte that matched.
func specialBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((q-ones)&^q | (b-ones)&^b | (x-ones*0x20)&^x) & highs
}

// escapedString continues stringBytes once a backslash is found, building an unescaped copy.
func (r *jsonReader) escapedString(start int) ([]byte, bool) {
	out := make([]byte, 0, r.i-start+16)
	out = append(out, r.b[start:r.i]...)
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			return out, true
		case c < 0x20:
			return nil, r.fail("control character in a string")
		case c != '\\':
			out = append(out, c)
			r.i++
			continue
		}
		r.i++
		if r.i >= len(r.b) {
			break
		}
		e := r.b[r.i]
		r.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			cp, ok := r.hex4()
			if !ok {
				return nil, r.fail("bad \\u escape")
			}
			if utf16.IsSurrogate(cp) {
				// a surrogate must come as a valid pair; a lone one is not a Unicode scalar value
				if r.i+6 > len(r.b) || r.b[r.i] != '\\' || r.b[r.i+1] != 'u' {
					return nil, r.fail("lone surrogate in a string")
				}
				r.i += 2
				lo, ok := r.hex4()
				if !ok {
					return nil, r.fail("bad \\u escape")
				}
				cp = utf16.DecodeRune(cp, lo)
				if cp == utf8.RuneError {
					return nil, r.fail("lone surrogate in a string")
				}
			}
			out = utf8.AppendRune(out, cp)
		default:
			return nil, r.fail("bad escape in a string")
		}
	}
	return nil, r.fail("unterminated string")
}

func (r *jsonReader) hex4() (rune, bool) {
	if r.i+4 > len(r.b) {
		return 0, false
	}
	var v rune
	for _, c := range r.b[r.i : r.i+4] {
		v <<= 4
		switch {
		case '0' <= c && c <= '9':
			v |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			v |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			v |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	r.i += 4
	return v, true
}

// str reads a JSON string value into a Go string.
func (r *jsonReader) str() (string, bool) {
	b, ok := r.stringBytes()
	if !ok {
		return "", false
	}
	return string(b), true
}

// strOf is str returning the one of known that the value equals, so that common values (an alg, a typ)
// need no allocation.
func (r *jsonReader) strOf(known ...string) (string, bool) {
	b, ok := r.stringBytes()
	if !ok {
		return "", false
	}
	for _, k := range known {
		if string(b) == k {
			return k, true
		}
	}
	return string(b), true
}

// number reads a JSON number per RFC 8259 and returns its literal.
func (r *jsonReader) number() ([]byte, bool) {
	start := r.i
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	if r.i >= len(r.b) {
		return nil, r.fail("expected a number")
	}
	switch c := r.b[r.i]; {
	case c == '0':
		r.i++
	case '1' <= c && c <= '9':
		for r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
			r.i++
		}
	default:
		return nil, r.fail("expected a number")
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		d := r.i
		for r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
			r.i++
		}
		if r.i == d {
			return nil, r.fail("malformed number")
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		d := r.i
		for r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
			r.i++
		}
		if r.i == d {
			return nil, r.fail("malformed number")
		}
	}
	return r.b[start:r.i], true
}

// numericDate reads a NumericDate: a JSON number (never a string) between 0 and year 9999.
func (r *jsonReader) numericDate() (float64, bool) {
	if r.i >= len(r.b) || (r.b[r.i] != '-' && (r.b[r.i] < '0' || r.b[r.i] > '9')) {
		return 0, r.fail("a date claim is not a JSON number")
	}
	// The common date, a plain integer of at most 15 digits, in one pass over its digits; anything else
	// (a fraction, an exponent, more digits) goes through number and ParseFloat.
	if c := r.b[r.i]; '1' <= c && c <= '9' {
		j, n := r.i, uint64(0)
		for ; j < len(r.b) && j-r.i < 15 && '0' <= r.b[j] && r.b[j] <= '9'; j++ {
			n = n*10 + uint64(r.b[j]-'0')
		}
		if j == len(r.b) || (r.b[j] != '.' && r.b[j] != 'e' && r.b[j] != 'E' && (r.b[j] < '0' || r.b[j] > '9')) {
			r.i = j
			if n > maxNumericDate {
				return 0, r.fail("a date claim is out of range")
			}
			return float64(n), true
		}
	}
	lit, ok := r.number()
	if !ok {
		return 0, false
	}
	var v float64
	if n, ok := smallUint(lit); ok {
		v = float64(n)
	} else {
		f, err := strconv.ParseFloat(string(lit), 64)
		if err != nil {
			return 0, r.fail("a date claim is out of range")
		}
		v = f
	}
	if !(v >= 0 && v <= maxNumericDate) {
		return 0, r.fail("a date claim is out of range")
	}
	return v, true
}

// smallUint parses a plain run of at most 15 digits without allocating.
func smallUint(lit []byte) (uint64, bool) {
	if len(lit) == 0 || len(lit) > 15 {
		return 0, false
	}
	var n uint64
	for _, c := range lit {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// stringOrArray reads a string or an array of strings (aud, scp).
func (r *jsonReader) stringOrArray() (one string, many []string, isArray bool, ok bool) {
	if r.i < len(r.b) && r.b[r.i] == '"' {
		s, ok := r.str()
		return s, nil, false, ok
	}
	many, ok = r.stringArray()
	return "", many, true, ok
}

// stringArray reads an array whose elements are all strings.
func (r *jsonReader) stringArray() ([]string, bool) {
	if r.i >= len(r.b) || r.b[r.i] != '[' {
		return nil, r.fail("expected a string or an array of strings")
	}
	out := []string{}
	ok := r.array(func() bool {
		s, ok := r.str()
		if !ok {
			return r.fail("expected an array of strings")
		}
		out = append(out, s)
		return true
	})
	if !ok {
		return nil, false
	}
	return out, true
}

// array reads a JSON array at r, calling elem for each element with r at its first byte; elem consumes it.
// Every array the decoder reads goes through here, so all share one grammar.
func (r *jsonReader) array(elem func() bool) bool {
	if r.i >= len(r.b) || r.b[r.i] != '[' {
		return r.fail("expected an array")
	}
	r.i++
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == ']' {
		r.i++
		return true
	}
	for {
		r.ws()
		if !elem() {
			return false
		}
		r.ws()
		if r.i >= len(r.b) {
			return r.fail("unterminated array")
		}
		switch r.b[r.i] {
		case ',':
			r.i++
		case ']':
			r.i++
			return true
		default:
			return r.fail("expected ',' or ']' in an array")
		}
	}
}

// skip validates and skips any JSON value.
func (r *jsonReader) skip(depth int) bool {
	if depth > maxJSONDepth {
		return r.fail("JSON nested too deeply")
	}
	if r.i >= len(r.b) {
		return r.fail("expected a value")
	}
	switch c := r.b[r.i]; {
	case c == '{':
		var m members // the loop form, not object: with a callback the segment would escape to the heap
		if !r.openObject(depth, &m) {
			return false
		}
		for {
			if _, ok := r.nextMember(&m); !ok {
				return m.done
			}
			if !r.skip(depth + 1) {
				return false
			}
		}
	case c == '[':
		return r.array(func() bool { return r.skip(depth + 1) })
	case c == '"':
		_, ok := r.stringBytes()
		return ok
	case c == '-' || ('0' <= c && c <= '9'):
		_, ok := r.number()
		return ok
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(r.b)-r.i >= len(lit) && string(r.b[r.i:r.i+len(lit)]) == lit {
				r.i += len(lit)
				return true
			}
		}
		return r.fail("invalid JSON value")
	}
}

// parseHeader decodes the JOSE header strictly.
func parseHeader(b []byte, h *header) error {
	if err := readSegment(b, "header", h, nil); err != nil {
		return err
	}
	if h.alg == "" {
		return parseError("header has no alg")
	}
	return nil
}

// parsePayload decodes the claims strictly. Registered claims with the wrong JSON type are errors, not ignored.
func parsePayload(b []byte, p *payload) error {
	return readSegment(b, "payload", nil, p)
}

// readSegment reads a decoded header (into h) or payload (into p): one UTF-8 JSON object and nothing else.
// It calls no function values, so that b, a stack buffer for the header, can stay on the stack.
func readSegment(b []byte, what string, h *header, p *payload) error {
	if !utf8.Valid(b) {
		return parseError(what + " is not valid UTF-8")
	}
	r := jsonReader{b: b}
	var m members
	ok := r.openObject(0, &m)
	for ok {
		name, more := r.nextMember(&m)
		if !more {
			ok = m.done
			break
		}
		if h != nil {
			ok = r.headerMember(name, h)
		} else {
			ok = r.payloadMember(name, p)
		}
	}
	if !ok || !r.end() {
		return parseError(what + ": " + string(r.err))
	}
	return nil
}

// headerMember reads the value of the header member name.
func (r *jsonReader) headerMember(name []byte, h *header) (ok bool) {
	switch string(name) {
	case "alg":
		var b []byte
		if b, ok = r.stringBytes(); ok {
			if a := lookupAlg(string(b)); a != nil {
				h.alg = a.name // the same string, without allocating
			} else {
				h.alg = string(b)
			}
		}
	case "kid":
		h.kid, ok = r.str()
		h.hasKID = true
	case "typ":
		h.typ, ok = r.strOf("JWT", "at+jwt", "jwt", "application/at+jwt", "application/jwt")
		h.hasTyp = true
	case "crit":
		h.crit = true
		ok = r.skip(1)
	default:
		if caseVariantOf(name, "alg", "kid", "typ", "crit") {
			return r.fail("a member name is a case variant of alg, kid, typ or crit")
		}
		ok = r.skip(1)
	}
	return ok
}

// payloadMember reads the value of the payload member name: a registered claim, or any JSON value.
func (r *jsonReader) payloadMember(name []byte, p *payload) (ok bool) {
	switch string(name) {
	case "iss":
		p.iss, ok = r.str()
		p.hasIss = true
	case "sub":
		p.sub, ok = r.str()
	case "jti":
		p.jti, ok = r.str()
	case "aud":
		p.audOne, p.audMany, p.audIsArray, ok = r.stringOrArray()
		p.hasAud = true
	case "exp":
		p.exp, ok = r.numericDate()
		p.hasExp = true
	case "nbf":
		p.nbf, ok = r.numericDate()
		p.hasNbf = true
	case "iat":
		p.iat, ok = r.numericDate()
		p.hasIat = true
	case "scope":
		p.scope, ok = r.str()
		p.hasScope = true
	case "scp":
		p.scpOne, p.scpMany, p.scpIsArray, ok = r.stringOrArray()
		p.hasScp = true
	case "permissions":
		p.permissions, ok = r.stringArray()
	case "cnf":
		p.hasCnf = true
		ok = r.confirmation(&p.cnf)
	default:
		// encoding/json (Claims.Decode) would read "Sub" as sub, which the registered claims do not.
		if caseVariantOf(name, "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "scp", "permissions", "cnf") {
			return r.fail("a claim name is a case variant of a registered claim (iss, sub, aud, exp, nbf, iat, jti, scope, scp, permissions, cnf)")
		}
		ok = r.skip(1)
	}
	return ok
}

// confirmation reads the cnf object: member names exactly as registered, values of known members strings.
func (r *jsonReader) confirmation(c *confirmation) bool {
	var m members
	if !r.openObject(1, &m) {
		return false
	}
	for {
		name, more := r.nextMember(&m)
		if !more {
			return m.done
		}
		var ok bool
		switch string(name) {
		case "x5t#S256":
			c.x5t, ok = r.str()
			c.hasX5t = true
		case "jkt":
			c.jkt, ok = r.str()
			c.hasJkt = true
		default:
			c.other = true
			ok = r.skip(2)
		}
		if !ok {
			return false
		}
	}
}

// topLevelString finds the top-level member name of a payload that parsePayload has already accepted and
// returns its value when it is a string. present is false when the member is absent.
func topLevelString(b []byte, name string) (value string, present, isString bool) {
	r := jsonReader{b: b}
	r.object(0, func(n []byte) bool {
		if string(n) != name {
			return r.skip(1)
		}
		present = true
		if r.i < len(r.b) && r.b[r.i] == '"' {
			value, isString = r.str()
			return isString
		}
		return r.skip(1)
	})
	return value, present, isString
}
