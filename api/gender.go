package api

import "fmt"

// Gender is a person's gender: Male, Female or GenderUnknown (the zero
// value). Its text form, in JSON as elsewhere, is the string itself.
type Gender string

// Gender values.
const (
	GenderUnknown Gender = ""
	Female        Gender = "female"
	Male          Gender = "male"
)

// Valid reports whether g is one of the three Gender values.
func (g Gender) Valid() bool { return g == GenderUnknown || g == Female || g == Male }

// Known reports whether g is Male or Female.
func (g Gender) Known() bool { return g == Female || g == Male }

// String returns "male", "female" or "unknown".
func (g Gender) String() string {
	if g == GenderUnknown {
		return "unknown"
	}
	return string(g)
}

// Class is the index of g's class among the model's gender logits: 0 for
// Female, 1 for Male, −1 for an unknown (or invalid) gender.
func (g Gender) Class() int {
	switch g {
	case Female:
		return 0
	case Male:
		return 1
	}
	return -1
}

// GenderOf is the gender predicted from P(male): Male when pMale > 0.5,
// otherwise Female (so exactly 0.5 reads as Female).
func GenderOf(pMale float64) Gender {
	if pMale > 0.5 {
		return Male
	}
	return Female
}

// ParseGender parses the text form: "male", "female", or "" / "unknown" for
// GenderUnknown. Anything else is an error naming the value.
func ParseGender(s string) (Gender, error) {
	switch s {
	case "male":
		return Male, nil
	case "female":
		return Female, nil
	case "", "unknown":
		return GenderUnknown, nil
	}
	return GenderUnknown, fmt.Errorf("gender %q: want \"male\", \"female\" or \"\"", s)
}

// MarshalText encodes g as its value; an invalid Gender is an error.
func (g Gender) MarshalText() ([]byte, error) {
	if !g.Valid() {
		return nil, fmt.Errorf("gender %q: want \"male\", \"female\" or \"\"", string(g))
	}
	return []byte(g), nil
}

// UnmarshalText decodes the text form (see ParseGender).
func (g *Gender) UnmarshalText(b []byte) error {
	v, err := ParseGender(string(b))
	if err != nil {
		return err
	}
	*g = v
	return nil
}
