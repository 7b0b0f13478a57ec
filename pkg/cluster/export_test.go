package cluster

// EnsurePKI exposes the certificate generation to the external tests.
func EnsurePKI(c *Cluster) error { return c.pki().ensure() }
