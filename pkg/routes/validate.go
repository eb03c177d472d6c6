// Package routes validates routecast routes and puts them in canonical form.
//
// Validation accepts hosts and methods in any case, so that a route can be
// validated before or after Normalize; duplicates are found without regard
// to case. Every validation error is a *FieldError naming the field that is
// wrong.
package routes

import (
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/internal/parallel"
)

// ValidateScope checks that scope has the form "tenant/environment", each
// part a lowercase DNS label. The error's field is "scope".
func ValidateScope(scope string) error {
	tenant, env, ok := strings.Cut(scope, "/")
	if !ok || strings.Contains(env, "/") {
		return fieldErrorf("scope", "%q is not of the form tenant/environment", scope)
	}
	for _, part := range []string{tenant, env} {
		if !isDNSLabel(part) {
			return fieldErrorf("scope", "%q in %q is not a lowercase DNS label", part, scope)
		}
	}
	return nil
}

// ValidateName checks a route name: 1 to 253 letters, digits, '.', '_' and
// '-', starting and ending with a letter or digit. The error's field is
// "name".
func ValidateName(name string) error {
	return checkName("name", name)
}

func checkName(field, name string) error {
	switch {
	case name == "":
		return fieldErrorf(field, "must be set")
	case len(name) > maxNameLen:
		return fieldErrorf(field, "is %d characters long; at most %d are allowed",
			len(name), maxNameLen)
	case !onlyBytes(name, "._-"):
		return fieldErrorf(field, "%q may contain only letters, digits, '.', '_' and '-'", name)
	case !isAlnum(name[0]) || !isAlnum(name[len(name)-1]):
		return fieldErrorf(field, "%q must start and end with a letter or digit", name)
	}
	return nil
}

// Validate checks a whole route. The field of the error is relative to the
// route, such as "match.path.prefix". The scope is checked only when it is
// set, and the version is not checked. Credentials are looked for first,
// so that no error quotes one; see CheckCredentials.
func Validate(r *routecastv1.Route) error {
	if r == nil {
		return fieldErrorf("", "route is not set")
	}
	checks := []func(*routecastv1.Route) error{
		CheckCredentials,
		checkRouteName,
		checkRouteScope,
		checkLabels,
		checkOwner,
		checkMatch,
		checkUpstream,
		checkFilters,
		checkPolicy,
	}
	for _, check := range checks {
		if err := check(r); err != nil {
			return err
		}
	}
	return nil
}

func checkRouteName(r *routecastv1.Route) error {
	return ValidateName(r.GetName())
}

func checkRouteScope(r *routecastv1.Route) error {
	if r.GetScope() == "" {
		return nil
	}
	return ValidateScope(r.GetScope())
}

// checkLabels checks label keys and values, in key order so that the error
// for a route is always the same. Labels are seldom invalid, so they are
// checked in map order first, which needs no sorting; only if one is
// invalid are they checked again in key order to report the first.
func checkLabels(r *routecastv1.Route) error {
	labels := r.GetLabels()
	valid := true
	for k, v := range labels {
		if checkLabel(k, v) != nil {
			valid = false
			break
		}
	}
	if valid {
		return nil
	}
	for _, k := range sortedKeys(labels) {
		if err := checkLabel(k, labels[k]); err != nil {
			err.Field = labelField(k).String()
			return err
		}
	}
	return nil
}

// checkLabel checks one label. The caller sets the field of the error.
func checkLabel(key, value string) *FieldError {
	switch {
	case key == "":
		return fieldErrorf("", "key must not be empty")
	case len(key) > maxLabelKeyLen:
		return fieldErrorf("", "key is %d characters long; at most %d are allowed",
			len(key), maxLabelKeyLen)
	case !onlyBytes(key, "._/-"):
		return fieldErrorf("", "key may contain only letters, digits, '.', '_', '/' and '-'")
	case utf8.RuneCountInString(value) > maxLabelValLen:
		return fieldErrorf("", "value is %d characters long; at most %d are allowed",
			utf8.RuneCountInString(value), maxLabelValLen)
	case !utf8.ValidString(value) || hasControl(value):
		return fieldErrorf("", "value must not contain control characters")
	}
	return nil
}

// sortedKeys returns the keys of labels in order.
func sortedKeys(labels map[string]string) []string {
	return slices.Sorted(maps.Keys(labels))
}

func checkOwner(r *routecastv1.Route) error {
	owner := r.GetOwner()
	if n := utf8.RuneCountInString(owner); n > maxOwnerLen {
		return fieldErrorf("owner", "is %d characters long; at most %d are allowed",
			n, maxOwnerLen)
	}
	if !utf8.ValidString(owner) {
		return fieldErrorf("owner", "is not valid UTF-8")
	}
	for _, c := range owner {
		if !unicode.IsPrint(c) {
			return fieldErrorf("owner", "must contain only printable characters")
		}
	}
	return nil
}

// validateAll validates every route and returns the error of the first
// invalid one, with its index. Large batches are validated on every CPU;
// the error reported is still that of the lowest index.
func validateAll(rs []*routecastv1.Route) (int, error) {
	return parallel.Each(len(rs), func(i int) error { return Validate(rs[i]) })
}

// ValidateBatch checks one write batch: every route in puts is valid, no
// name is put twice, every name in deletes is valid and deleted once, and
// no name is both put and deleted. Fields of the error start with
// "puts[i]" or "deletes[i]".
func ValidateBatch(puts []*routecastv1.Route, deletes []string) error {
	if i, err := validateAll(puts); err != nil {
		return withPrefix(indexField("puts", i), err)
	}
	putAt := make(map[string]int, len(puts))
	for i, r := range puts {
		if j, ok := putAt[r.GetName()]; ok {
			return fieldErrorf(indexField("puts", i)+".name", "duplicate name %q (also %s)",
				r.GetName(), indexField("puts", j))
		}
		putAt[r.GetName()] = i
	}

	deleteAt := make(map[string]int, len(deletes))
	for i, name := range deletes {
		if err := checkName("", name); err != nil {
			return withPrefix(indexField("deletes", i), err)
		}
		if j, ok := deleteAt[name]; ok {
			return fieldErrorf(indexField("deletes", i), "duplicate name %q (also %s)",
				name, indexField("deletes", j))
		}
		if j, ok := putAt[name]; ok {
			return fieldErrorf(indexField("deletes", i), "name %q is also put (%s)",
				name, indexField("puts", j))
		}
		deleteAt[name] = i
	}
	return nil
}
