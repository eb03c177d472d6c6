package importer

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The apiVersion and kind values that the importer knows.
const (
	gatewayGroup       = "gateway.networking.k8s.io"
	httpRouteKind      = "HTTPRoute"
	routeSetAPIVersion = "routecast.dev/v1"
	routeSetKind       = "RouteSet"
)

// httpRouteVersions are the Gateway API versions HTTPRoutes are read from.
var httpRouteVersions = map[string]bool{"v1": true, "v1beta1": true}

// otherGatewayKinds are the Gateway API kinds besides HTTPRoute. Documents
// of these kinds are skipped; an unknown kind in the Gateway API group is an
// error, as it is most likely a typing mistake.
var otherGatewayKinds = map[string]bool{
	"GatewayClass":     true,
	"Gateway":          true,
	"ListenerSet":      true,
	"GRPCRoute":        true,
	"TLSRoute":         true,
	"TCPRoute":         true,
	"UDPRoute":         true,
	"ReferenceGrant":   true,
	"BackendTLSPolicy": true,
	"BackendLBPolicy":  true,
}

// document imports one YAML document. Empty documents are ignored.
func (p *parser) document(doc int, n *yaml.Node) error {
	if len(n.Content) == 0 || isNull(n.Content[0]) {
		return nil
	}
	root := n.Content[0]
	if root.Kind != yaml.MappingNode {
		return errorAt(root, "",
			"not an HTTPRoute or a routecast RouteSet: the document is %s, not a mapping",
			describe(root))
	}
	apiVersion, kind := scalarField(root, "apiVersion"), scalarField(root, "kind")
	group, version, _ := strings.Cut(apiVersion, "/")

	w := newWalker(root)
	var rs []imported
	var err error
	switch {
	case group == gatewayGroup && kind == httpRouteKind:
		if !httpRouteVersions[version] {
			return errorAt(keyNode(root, "apiVersion"), "apiVersion",
				"HTTPRoute %s is not supported; use %s/v1", version, gatewayGroup)
		}
		rs, err = decodeHTTPRoute(w, root, p.opts)
	case group == gatewayGroup && otherGatewayKinds[kind]:
		p.skip(doc, root, kind)
		return nil
	case apiVersion == routeSetAPIVersion && kind == routeSetKind:
		rs, err = decodeRouteSet(w, root)
	default:
		return notImportable(root, apiVersion, kind)
	}
	if err != nil {
		return err
	}
	return p.add(doc, w, rs)
}

func (p *parser) skip(doc int, root *yaml.Node, kind string) {
	name := ""
	if meta := mappingValue(root, "metadata"); meta != nil && meta.Kind == yaml.MappingNode {
		name = scalarField(meta, "name")
	}
	p.result.Skipped = append(p.result.Skipped, Skipped{
		Document: doc,
		Kind:     kind,
		Name:     name,
		Reason:   fmt.Sprintf("%s is not imported; only HTTPRoute is", kind),
	})
}

func notImportable(root *yaml.Node, apiVersion, kind string) error {
	const what = "not an HTTPRoute or a routecast RouteSet"
	switch {
	case apiVersion == "" && kind == "":
		return errorAt(root, "", "%s: apiVersion and kind are not set", what)
	case strings.HasPrefix(apiVersion, gatewayGroup+"/"):
		return errorAt(keyNode(root, "kind"), "kind", "%s: unknown Gateway API kind %q", what, kind)
	}
	return errorAt(root, "", "%s (apiVersion %q, kind %q)", what, apiVersion, kind)
}

// keyNode returns the node of key in the mapping n, or n if it has no such
// key.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if resolve(n.Content[i]).Value == key {
			return n.Content[i]
		}
	}
	return n
}

// mappingValue returns the value of key in the mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if resolve(n.Content[i]).Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}

// scalarField returns the string value of key in the mapping n, or "" if
// it is missing or not a string. The strict decoders check types later.
func scalarField(n *yaml.Node, key string) string {
	v := mappingValue(n, key)
	if v == nil || v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		return ""
	}
	return v.Value
}
