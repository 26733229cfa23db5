-- Default system parameters (docs/chaincode.md §5): the chain's defaults mirrored into the read model so
-- svc-tax, svc-admin and svc-governance see the same values before any SystemParameterUpdated event.
-- Insert-if-absent: a value already present (set by the projector or adopted from an existing database) is kept.
INSERT INTO "SystemParameter" ("tenantId", "paramKey", "paramValue", "description") VALUES
	('default', 'transactionFeeBps', '10', 'Transaction fee rate in basis points (docs/chaincode.md §4)'),
	('default', 'transactionFeeThreshold', '1000000', 'Amounts up to this many Qirat pay no transaction fee'),
	('default', 'transactionFeeMaxQirat', '10000000', 'Cap on one transaction fee in Qirat; 0 means no cap'),
	('default', 'velocityTaxRateBps', '300', 'Velocity tax rate on the balance in basis points'),
	('default', 'velocityTaxMinimumBalance', '10000000', 'Balances below this many Qirat are exempt from velocity tax'),
	('default', 'velocityTaxDormancyDays', '360', 'Days without sending before velocity tax applies'),
	('default', 'genesisTier1Amount', '10000000', 'Genesis allocation for individual users in Qirat'),
	('default', 'genesisTier2Amount', '50000000', 'Genesis allocation for business and organization users in Qirat'),
	('default', 'genesisTier3Amount', '100000000', 'Genesis allocation for government users in Qirat'),
	('default', 'loanMinimumAmount', '10000000', 'Smallest loan in Qirat'),
	('default', 'loanMaximumAmount', '100000000000', 'Largest loan in Qirat'),
	('default', 'governanceVotingPeriodSeconds', '1209600', 'Length of the voting window of a proposal in seconds'),
	('default', 'governanceQuorumPercentage', '10', 'Votes cast x 100 must reach this percentage of registered users'),
	('default', 'governanceApprovalThreshold', '66', 'FOR x 100 must reach this percentage of FOR + AGAINST'),
	('default', 'orgDefaultThreshold', '2', 'Approvals needed for an organization transfer when no rule applies'),
	('default', 'genesisUserPoolAmount', '5000000000000000', 'Qirat minted into SYSTEM_USER_GENESIS_POOL at bootstrap'),
	('default', 'genesisGovtPoolAmount', '5000000000000000', 'Qirat minted into SYSTEM_GOVT_GENESIS_POOL at bootstrap'),
	('default', 'loanPoolAmount', '1000000000000000', 'Qirat minted into SYSTEM_LOAN_POOL at bootstrap'),
	('default', 'totalSupplyCap', '21000000000000000', 'Upper bound of all minted Qirat')
ON CONFLICT ("tenantId", "paramKey") DO NOTHING;
