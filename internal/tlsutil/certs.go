package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// PEM is a certificate and its private key, PEM-encoded.
type PEM struct {
	Cert, Key []byte
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// NewCA makes a self-signed certificate authority for a development or test cluster
// (ECDSA P-256), valid from an hour ago for validity.
func NewCA(cluster string, validity time.Duration) (PEM, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Chorus CA for cluster " + cluster, Organization: []string{"Chorus"}},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return sign(tmpl, nil, nil, validity)
}

// sign makes a key pair and a certificate from tmpl (serial number and validity
// filled in) signed by parent with parentKey, or self-signed when parent is nil.
func sign(tmpl, parent *x509.Certificate, parentKey any, validity time.Duration) (PEM, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return PEM{}, err
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return PEM{}, err
	}
	now := time.Now()
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(validity)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return PEM{}, err
	}
	kp, err := encodeKey(key)
	if err != nil {
		return PEM{}, err
	}
	return PEM{Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Key: kp}, nil
}

// IssueNode makes a node certificate signed by ca, for both ends of node-to-node TLS
// and for the client ports: its URI SAN names cluster and node id, and hosts (names or
// IP addresses) become DNS or IP SANs for clients that check host names.
func IssueNode(ca PEM, cluster, id string, hosts []string, validity time.Duration) (PEM, error) {
	if cluster == "" || id == "" {
		return PEM{}, errors.New("a node certificate needs a cluster name and a node id")
	}
	caPair, err := tls.X509KeyPair(ca.Cert, ca.Key)
	if err != nil {
		return PEM{}, fmt.Errorf("the CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caPair.Certificate[0])
	if err != nil {
		return PEM{}, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: id, Organization: []string{"Chorus cluster " + cluster}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{ClusterURI(cluster, id)},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return sign(tmpl, caCert, caPair.PrivateKey, validity)
}
