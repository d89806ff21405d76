// Package synth generates gaitord's built-in synthetic gait dataset: GEIs of
// a parametric walking person whose body proportions, posture and gait
// depend on age and gender, written in the OU-MVLP layout with a label CSV.
// The age and gender signals are deliberately learnable, so a model trained
// on the data must beat predicting the mean age by a wide margin.
package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SubjectParams describes one synthetic person. Lengths are fractions of
// the person's standing height, angles are degrees.
type SubjectParams struct {
	// ID is the subject number (1..99999).
	ID int
	// Age is the age in years.
	Age int
	// Male is the gender: true for male, false for female.
	Male bool
	// Seed drives the per-sequence and per-frame noise of Render.
	Seed uint64

	// HeightFrac is the standing height as a fraction of the frame height.
	HeightFrac float64
	// HeadFrac is the head height (children have big heads).
	HeadFrac float64
	// LegFrac is the hip height (children have short legs).
	LegFrac float64
	// ShoulderW is the shoulder width (wider in men).
	ShoulderW float64
	// HipW is the hip width (wider in women).
	HipW float64
	// Depth is the front-to-back torso depth.
	Depth float64
	// LimbW is the thigh thickness; other limbs are thinner in proportion.
	LimbW float64
	// Stoop is the forward lean of the torso (grows after 50).
	Stoop float64
	// HeadFwd is how far the head sits forward of the neck.
	HeadFwd float64
	// ThighAmp is the hip swing amplitude: the stride.
	ThighAmp float64
	// KneeAmp is the knee flexion amplitude during swing.
	KneeAmp float64
	// KneeBend is the constant knee flexion (grows with old age).
	KneeBend float64
	// ArmAmp is the arm swing amplitude.
	ArmAmp float64
}

// NewSubject returns the body of a person of the given age and gender. The
// age and gender set the typical proportions, posture and gait; seed adds
// per-subject variation (a few per cent on proportions, a few degrees on
// angles) and becomes SubjectParams.Seed. Same arguments, same result.
func NewSubject(id, age int, male bool, seed uint64) SubjectParams {
	r := rand.New(rand.NewPCG(seed, 0x5eed5eed))
	a := float64(age)
	child := math.Exp(-(a - 2) / 5)            // 1 at 2 years, ~0.04 at 18
	adult := sigmoid((a - 13) / 1.5)           // puberty: gender differences appear
	old := clamp((a-45)/40, 0, 1.2)            // gait slows down from 45
	girth := 1 + 0.18*clamp((a-20)/40, 0, 1) + // middle-age spread
		0.08*child
	sex := 1.0
	if !male {
		sex = -1
	}
	vary := func(v, rel float64) float64 { return v * (1 + rel*r.NormFloat64()) }
	jitter := func(v, sd float64) float64 { return v + sd*r.NormFloat64() }
	heightM := 0.87 + (1.69+0.07*sex*adult-0.87)*(1-math.Exp(-(a-2)/5.5)) - 0.04*clamp((a-60)/30, 0, 1)
	return SubjectParams{
		ID: id, Age: age, Male: male, Seed: seed,
		HeightFrac: clamp(vary(0.85*heightM/1.9, 0.04), 0.3, 0.9),
		HeadFrac:   vary(0.13+0.09*child, 0.04),
		LegFrac:    vary(0.50-0.09*child, 0.03),
		ShoulderW:  vary((0.235+0.02*sex*adult)*girth, 0.05),
		HipW:       vary((0.185-0.02*sex*adult)*girth, 0.05),
		Depth:      vary(0.13*girth, 0.06),
		LimbW:      vary((0.065+0.01*child)*math.Sqrt(girth), 0.06),
		Stoop:      math.Max(0, jitter(0.45*math.Max(0, a-50)+2, 2)),
		HeadFwd:    math.Max(0, jitter(0.012+0.0009*math.Max(0, a-50), 0.005)),
		ThighAmp:   jitter(25-9*child-12*old, 2),
		KneeAmp:    jitter(50-10*child-15*old, 4),
		KneeBend:   math.Max(0, jitter(5+0.3*math.Max(0, a-55), 2)),
		ArmAmp:     jitter(22-8*child-12*old, 2.5),
	}
}

// validate refuses parameters that cannot draw a person.
func (s SubjectParams) validate() error {
	ok := s.HeightFrac > 0 && s.HeightFrac <= 1 && s.HeadFrac > 0 && s.LegFrac > 0 &&
		s.HeadFrac+s.LegFrac < 0.95 && s.ShoulderW > 0 && s.HipW > 0 && s.Depth > 0 &&
		s.LimbW > 0 && s.Stoop >= 0 && s.Stoop < 60
	for _, v := range []float64{s.HeightFrac, s.HeadFrac, s.LegFrac, s.ShoulderW, s.HipW,
		s.Depth, s.LimbW, s.Stoop, s.HeadFwd, s.ThighAmp, s.KneeAmp, s.KneeBend, s.ArmAmp} {
		ok = ok && !math.IsNaN(v) && !math.IsInf(v, 0)
	}
	if !ok {
		return fmt.Errorf("subject %d: body parameters out of range: %+v", s.ID, s)
	}
	return nil
}

// sigmoid is the logistic function.
func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// clamp limits v to [lo, hi].
func clamp(v, lo, hi float64) float64 { return math.Min(hi, math.Max(lo, v)) }
