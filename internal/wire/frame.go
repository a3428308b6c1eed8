package wire

import (
	"encoding/binary"
	"fmt"
)

// AppendFrame appends a frame holding msgs (a count, then each message
// length-prefixed) to dst and returns the extended slice.
func AppendFrame(dst []byte, msgs []Message) []byte {
	dst = AppendFrameHeader(dst, len(msgs))
	for i := range msgs {
		dst = AppendFrameMessage(dst, msgs[i])
	}
	return dst
}

// AppendFrameHeader appends the header of a frame of count messages. Followed by count
// AppendFrameMessage calls it builds the same bytes as AppendFrame; a sender that
// accumulates messages before it knows their number keeps the entries in one buffer
// and writes the header in front when it sends.
func AppendFrameHeader(dst []byte, count int) []byte {
	return binary.AppendUvarint(dst, uint64(count))
}

// FrameHeaderLen returns the length of the header of a frame of count messages.
func FrameHeaderLen(count int) int { return uvarintLen(uint64(count)) }

// AppendFrameMessage appends one frame entry: m's encoded length, then its encoding.
// It encodes m in place (no scratch buffer) and moves it only when the length needs
// more than one byte.
func AppendFrameMessage(dst []byte, m Message) []byte {
	start := len(dst)
	dst = append(dst, 0) // room for a one-byte length; most messages are shorter than 128
	dst = Append(dst, m)
	n := len(dst) - start - 1
	if n < 0x80 {
		dst[start] = byte(n)
		return dst
	}
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(n))
	dst = append(dst, hdr[1:h]...) // grow by the extra length bytes
	copy(dst[start+h:], dst[start+1:start+1+n])
	copy(dst[start:], hdr[:h])
	return dst
}

// DecodeFrame parses a frame and calls fn with each message in order. It first checks
// the frame's structure (count, entry lengths, no trailing bytes) without decoding, so
// a truncated or garbled frame delivers nothing; a message that then fails to decode
// stops the walk after the messages before it were delivered. Errors from the frame
// wrap ErrMalformed; an error from fn is returned as is and stops the walk. buf is not
// retained.
func DecodeFrame(buf []byte, fn func(Message) error) error {
	count, n := binary.Uvarint(buf)
	if n <= 0 {
		return fmt.Errorf("%w: frame: bad count", ErrMalformed)
	}
	body := buf[n:]
	// Every entry takes at least one byte, so a count beyond the bytes left is a lie.
	if count > uint64(len(body)) {
		return fmt.Errorf("%w: frame: count %d exceeds the %d bytes left", ErrMalformed, count, len(body))
	}
	rest := body
	for i := uint64(0); i < count; i++ {
		if _, err := nextEntry(&rest, i); err != nil {
			return err
		}
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: frame: %d trailing bytes", ErrMalformed, len(rest))
	}
	rest = body
	for i := uint64(0); i < count; i++ {
		entry, _ := nextEntry(&rest, i)
		m, err := Decode(entry)
		if err != nil {
			return fmt.Errorf("frame message %d: %w", i, err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// nextEntry cuts the next length-prefixed entry off *rest.
func nextEntry(rest *[]byte, i uint64) ([]byte, error) {
	l, n := binary.Uvarint(*rest)
	if n <= 0 {
		return nil, fmt.Errorf("%w: frame message %d: bad length", ErrMalformed, i)
	}
	if l > uint64(len(*rest)-n) {
		return nil, fmt.Errorf("%w: frame message %d: length %d exceeds the %d bytes left", ErrMalformed, i, l, len(*rest)-n)
	}
	entry := (*rest)[n : n+int(l)]
	*rest = (*rest)[n+int(l):]
	return entry, nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
