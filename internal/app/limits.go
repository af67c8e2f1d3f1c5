package app

import (
	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/strategy"
)

// strategyLimits returns what cfg allows strategy inputs to cost, as the
// strategy package holds writes, previews and stored sets to it.
func strategyLimits(cfg config.Config) strategy.Limits {
	return strategy.Limits{
		Strategies:             cfg.MaxStrategies,
		Bytes:                  cfg.MaxStrategiesBytes,
		ListItems:              cfg.MaxStrategyListItems,
		RegexBytes:             cfg.MaxRegexBytes,
		RegexInstructions:      cfg.MaxRegexInstructions,
		TotalRegexInstructions: cfg.MaxRegexInstructionsTotal,
	}
}
