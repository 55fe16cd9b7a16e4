// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/*
 * CollateralVault - one per chain. Traders deposit collateral here; it leaves only on an
 * instruction (release to the trader, seize to the venue) signed by a quorum of the relayer
 * cluster's secp256k1 keys. The relayer's C side (bridges/evm/) decodes these events and builds
 * these digests byte for byte, so everything below is a wire contract: change it only with them.
 *
 * Assets. address(0) is the chain's native coin; any other asset is an ERC-20 token address.
 * Balances are per (account, asset): balanceOf(account, asset), in the asset's base units.
 *
 * Event sequence. eventSeq (uint64) numbers the three events below: the first has seq 1 and each
 * later one the previous + 1, across the three kinds (the constructor emits none of them).
 * Watchers use it to detect a missed log: a gap means re-read.
 *
 *   Deposited(uint64 indexed seq, address indexed account, address indexed asset, uint256 amount)
 *   Executed(uint64 indexed seq, uint8 kind, address indexed account, address indexed asset,
 *            uint256 amount, address recipient, uint256 nonce)
 *   SignersRotated(uint64 indexed seq, uint256 version, address[] signers, uint256 threshold)
 *
 * Events without a seq. LimitsSet, PaymentDeferred and Claimed carry no sequence number and do not
 * advance eventSeq: the watchers neither read nor count them (they filter eth_getLogs by the three
 * numbered events' topics), so a deferred payment or a claim is never a gap to them.
 *
 *   LimitsSet(uint256 version, address[] assets, uint256[] minimums)
 *   PaymentDeferred(uint256 indexed nonce, address indexed recipient, address indexed asset,
 *                   uint256 amount)
 *   Claimed(address indexed recipient, address indexed asset, uint256 amount, address indexed to)
 *
 * Deposits. depositNative(account) credits msg.value; deposit(token, account, amount) pulls the
 * tokens with transferFrom and credits what the vault's token balance actually grew by (a
 * fee-on-transfer token credits less than `amount`). Zero amounts and the zero account are
 * refused. So is an asset that is not allowed (AssetNotAllowed) and a credit below the asset's
 * minimum (DepositBelowMinimum): every deposit costs the cluster N signatures, a hub
 * verification, a permanent record and an account in every calculator, so dust is refused here,
 * where it costs the sender nothing to be told.
 *
 * Limits. minimumDeposit(asset) is the smallest credit accepted, in base units; 0 means the asset
 * is not allowed (the native coin included). The constructor installs the first list (version
 * 1); setLimits(assets, minimums, version, signatures) changes the listed assets' minimums (0
 * removes one; unlisted assets keep theirs), approved by a quorum of the current signer set over
 * the Limits digest below, with version = limitsVersion + 1 so a signed message applies once.
 * Assets are strictly ascending (address(0), the native coin, first if present). Removing an
 * asset stops deposits only: balances in it are still released and seized.
 *
 * Payments never fail an instruction. A release or seize pays ins.recipient with a bounded call:
 * native coin with NATIVE_GAS_STIPEND gas and no return data copied, a token's transfer with
 * TOKEN_TRANSFER_GAS and at most one word of return data read. If the recipient refuses, reverts,
 * runs out of that gas, or the token reverts or returns false, the amount is kept for the
 * recipient: claimable(recipient, asset) grows, PaymentDeferred is emitted, and the instruction
 * still executes (nonce used, Executed emitted as for a payment). The recipient (or the insurance
 * address of a seize) takes it later with claim(asset), which pays msg.sender with all the gas
 * msg.sender gives it, or with claimTo(asset, to), which pays the address `to` it names instead
 * (not the zero address nor the vault: ZeroRecipient). Only the recipient itself can move its
 * claim: it is the party whose money it is. Both take the whole claim and emit Claimed(recipient,
 * asset, amount, to) (to == recipient for claim), or revert and leave the claim whole when the
 * payee or the token refuses (NativeTransferFailed, the token's own error): unlike execute()'s
 * payment there is no third party to protect from the payee, so a failure is the caller's to see.
 * Nothing claimable: NothingToClaim(asset). Re-entering the vault from a payee is refused
 * (ReentrancyGuardReentrantCall), and the claim is cleared before the call in any case.
 *
 * What claimTo does not reach. A recipient that can neither take the payment nor call the vault
 * (a contract whose receive refuses coin within the stipend and which has no way to make an
 * arbitrary call: an exchange's deposit forwarder, a bridge, a token contract; or a contract the
 * token blacklists) keeps its claim for good. No permissionless rescue is built, deliberately:
 * the vault has no owner address for a release to return it to (the account is the relayer's
 * ledger key, seen in Executed, not a payee anyone signed for), and crediting it back to the
 * account's balance here would leave the vault disagreeing with the ledger and every watcher,
 * which recorded the Executed debit. The sound route would be a quorum-signed redirect (a new
 * EIP-712 message the C side builds and the ledger records as its own event); until then the
 * guard is off chain: a release goes where the trader asked, so the trader names an address
 * that can receive or call, as for any withdrawal; a seize's insurance address is the venue's
 * own. This is the price of not letting a recipient fail an instruction: before deferrals such
 * an execute reverted, the instruction expired and the balance stayed with the account.
 *
 * So a hostile recipient can neither block an instruction nor burn more of
 * an executor's gas than the stipend: execute() refuses to start the payment (GasTooLow) unless
 * enough gas is left for the callee to get its whole allowance and for the vault to finish
 * either way, so a gas estimate always covers the deferral path too.
 *
 * EIP-712. Domain: EIP712Domain(string name,string version,uint256 chainId,address
 * verifyingContract) with name "CollateralVault", version "1", the chain's id and this vault's
 * address. digest = keccak256(0x19 || 0x01 || domainSeparator || structHash), where
 *
 *   Instruction(uint8 kind,address account,address asset,uint256 amount,address recipient,
 *               uint256 nonce,uint256 deadline)
 *     structHash = keccak256(abi.encode(INSTRUCTION_TYPEHASH, kind, account, asset, amount,
 *                                       recipient, nonce, deadline))
 *   Rotate(address[] signers,uint256 threshold,uint256 version)
 *     structHash = keccak256(abi.encode(ROTATE_TYPEHASH, keccak256(abi.encodePacked(signers)),
 *                                       threshold, version))
 *   Limits(address[] assets,uint256[] minimums,uint256 version)
 *     structHash = keccak256(abi.encode(LIMITS_TYPEHASH, keccak256(abi.encodePacked(assets)),
 *                                       keccak256(abi.encodePacked(minimums)), version))
 *     (EIP-712 arrays: the hash of the elements' 32-byte words, each address left-padded)
 *
 * with each TYPEHASH the keccak256 of the type string exactly as written above (no spaces but
 * the one between a type and its name). instructionDigest(), rotateDigest() and limitsDigest()
 * return the full digest, so clients can check their own hashing against the contract's.
 *
 * Signatures. Each is 65 bytes r || s || v over the digest, v in {27, 28}, s in the lower half
 * of the curve order (EIP-2; high-s is refused, not normalised). The recovered addresses must be
 * members of the current signer set, strictly ascending (which rules out duplicates), and at
 * least `threshold` of them; more than threshold valid ones are fine.
 *
 * execute(ins, signatures): kind 1 = release (funds to the trader), 2 = seize (to the venue's
 * insurance / liquidation address); both pay ins.recipient from ins.account's balance of
 * ins.asset. Refused: an unknown kind, the zero recipient, block.timestamp > deadline, a nonce
 * already used (nonces are unique per vault, across kinds), a bad quorum, amount above the
 * balance, too little gas left for the payment (GasTooLow). On success: debit, mark the nonce
 * used, pay (or defer the payment, above), emit Executed.
 *
 * constructor(signers, threshold, assets, minimums): the first signer set (version 1) and the first
 * limits (version 1, as setLimits would install them).
 *
 * rotate(signers, threshold, version, signatures): version must be setVersion + 1; approved by
 * a quorum of the CURRENT set; the new set strictly ascending, nonzero, 1 <= threshold <= n.
 * The old set can sign nothing once the new one is in. Emits SignersRotated.
 */

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

contract CollateralVault is EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    struct Instruction {
        uint8 kind;
        address account;
        address asset;
        uint256 amount;
        address recipient;
        uint256 nonce;
        uint256 deadline;
    }

    uint8 public constant KIND_RELEASE = 1;
    uint8 public constant KIND_SEIZE = 2;
    address public constant NATIVE = address(0);

    bytes32 public constant INSTRUCTION_TYPEHASH = keccak256(
        "Instruction(uint8 kind,address account,address asset,uint256 amount,address recipient,uint256 nonce,uint256 deadline)"
    );
    bytes32 public constant ROTATE_TYPEHASH =
        keccak256("Rotate(address[] signers,uint256 threshold,uint256 version)");
    bytes32 public constant LIMITS_TYPEHASH =
        keccak256("Limits(address[] assets,uint256[] minimums,uint256 version)");

    /* Gas a recipient of native coin gets (plus the EVM's own 2300 stipend of a call with value):
     * enough for a smart-contract wallet's receive (a proxy's delegatecall and an event), far
     * too little to be worth burning. */
    uint256 public constant NATIVE_GAS_STIPEND = 10_000;
    /* Gas a token's transfer gets: a proxied ERC-20 with cold storage takes about 60 000. */
    uint256 public constant TOKEN_TRANSFER_GAS = 100_000;
    /* What the payment call itself may cost the vault beyond the callee's gas: value transfer
     * (9 000), a new account (25 000), a cold address (2 600), with room to spare. */
    uint256 private constant CALL_OVERHEAD_GAS = 40_000;
    /* What the vault needs after the call, whichever way it went: a deferral's new storage slot
     * (22 100), PaymentDeferred, Executed and the sequence number. */
    uint256 private constant AFTER_CALL_GAS = 50_000;

    /* r (32) || s (32) || v (1) */
    uint256 private constant SIGNATURE_BYTES = 65;

    event Deposited(uint64 indexed seq, address indexed account, address indexed asset, uint256 amount);
    event Executed(
        uint64 indexed seq,
        uint8 kind,
        address indexed account,
        address indexed asset,
        uint256 amount,
        address recipient,
        uint256 nonce
    );
    event SignersRotated(uint64 indexed seq, uint256 version, address[] signers, uint256 threshold);
    /* Not numbered (see the header): the watchers do not read these. */
    event LimitsSet(uint256 version, address[] assets, uint256[] minimums);
    event PaymentDeferred(uint256 indexed nonce, address indexed recipient, address indexed asset, uint256 amount);
    event Claimed(address indexed recipient, address indexed asset, uint256 amount, address indexed to);

    error ZeroAmount();
    error ZeroAccount();
    error ZeroRecipient();
    error NativeAssetNotAToken();
    error UnknownKind(uint8 kind);
    error DeadlinePassed(uint256 deadline, uint256 timestamp);
    error NonceUsed(uint256 nonce);
    error InsufficientBalance(uint256 amount, uint256 balance);
    error NativeTransferFailed(address recipient, uint256 amount);
    error EmptySignerSet();
    error ZeroSigner();
    error SignersNotAscending();
    error BadThreshold(uint256 threshold, uint256 signers);
    error BadVersion(uint256 version, uint256 expected);
    error NotEnoughSigners(uint256 given, uint256 threshold);
    error BadSignatureLength(uint256 index, uint256 length);
    error BadSignatureV(uint256 index, uint8 v);
    error SignatureHighS(uint256 index);
    error BadSignature(uint256 index);
    error UnknownSigner(address signer);
    error AssetNotAllowed(address asset);
    error DepositBelowMinimum(address asset, uint256 amount, uint256 minimum);
    error LimitsLengthMismatch(uint256 assets, uint256 minimums);
    error AssetsNotAscending();
    error GasTooLow(uint256 left, uint256 needed);
    error NothingToClaim(address asset);

    /* The last seq assigned; the next event gets eventSeq + 1. */
    uint64 public eventSeq;

    address[] private _signers;
    uint256 private _threshold;
    uint256 private _setVersion;
    /* signer => the set version it belongs to; a member of an older set maps to an old version,
     * so rotation never has to clear anything. */
    mapping(address => uint256) private _memberOfVersion;
    mapping(uint256 => bool) private _nonceUsed;
    mapping(address => mapping(address => uint256)) private _balances;
    /* asset => the smallest deposit credited; 0: the asset is not allowed */
    mapping(address => uint256) private _minDeposit;
    uint256 private _limitsVersion;
    /* recipient => asset => payments it refused or could not take, until it claims them */
    mapping(address => mapping(address => uint256)) private _claimable;

    constructor(
        address[] memory initialSigners,
        uint256 initialThreshold,
        address[] memory assets,
        uint256[] memory minimums
    ) EIP712("CollateralVault", "1") {
        _installSet(initialSigners, initialThreshold, 1);
        _installLimits(assets, minimums, 1);
    }

    // ---- deposits

    function depositNative(address account) external payable nonReentrant {
        if (msg.value == 0) revert ZeroAmount();
        if (account == address(0)) revert ZeroAccount();
        _checkMinimum(NATIVE, msg.value);
        _balances[account][NATIVE] += msg.value;
        emit Deposited(_nextSeq(), account, NATIVE, msg.value);
    }

    function deposit(address token, address account, uint256 amount) external nonReentrant {
        if (token == NATIVE) revert NativeAssetNotAToken();
        if (amount == 0) revert ZeroAmount();
        if (account == address(0)) revert ZeroAccount();
        if (_minDeposit[token] == 0) revert AssetNotAllowed(token);
        IERC20 t = IERC20(token);
        uint256 before = t.balanceOf(address(this));
        t.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = t.balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        _checkMinimum(token, received);
        _balances[account][token] += received;
        emit Deposited(_nextSeq(), account, token, received);
    }

    // ---- signed instructions

    function execute(Instruction calldata ins, bytes[] calldata signatures) external nonReentrant {
        if (ins.kind != KIND_RELEASE && ins.kind != KIND_SEIZE) revert UnknownKind(ins.kind);
        if (ins.recipient == address(0)) revert ZeroRecipient();
        if (block.timestamp > ins.deadline) revert DeadlinePassed(ins.deadline, block.timestamp);
        if (_nonceUsed[ins.nonce]) revert NonceUsed(ins.nonce);
        _checkQuorum(instructionDigest(ins), signatures);

        uint256 balance = _balances[ins.account][ins.asset];
        if (ins.amount > balance) revert InsufficientBalance(ins.amount, balance);
        _balances[ins.account][ins.asset] = balance - ins.amount;
        _nonceUsed[ins.nonce] = true;

        if (!_tryPay(ins.asset, ins.recipient, ins.amount)) {
            _claimable[ins.recipient][ins.asset] += ins.amount;
            emit PaymentDeferred(ins.nonce, ins.recipient, ins.asset, ins.amount);
        }
        emit Executed(_nextSeq(), ins.kind, ins.account, ins.asset, ins.amount, ins.recipient, ins.nonce);
    }

    function rotate(
        address[] calldata newSigners,
        uint256 newThreshold,
        uint256 newVersion,
        bytes[] calldata signatures
    ) external nonReentrant {
        if (newVersion != _setVersion + 1) revert BadVersion(newVersion, _setVersion + 1);
        _checkQuorum(rotateDigest(newSigners, newThreshold, newVersion), signatures);
        _installSet(newSigners, newThreshold, newVersion);
        emit SignersRotated(_nextSeq(), newVersion, newSigners, newThreshold);
    }

    function setLimits(
        address[] calldata assets,
        uint256[] calldata minimums,
        uint256 version,
        bytes[] calldata signatures
    ) external nonReentrant {
        if (version != _limitsVersion + 1) revert BadVersion(version, _limitsVersion + 1);
        _checkQuorum(limitsDigest(assets, minimums, version), signatures);
        _installLimits(assets, minimums, version);
    }

    /* Pays msg.sender what was deferred for it in asset, with all the gas it gives. */
    function claim(address asset) external nonReentrant {
        _claimTo(asset, msg.sender);
    }

    /* Pays what was deferred for msg.sender in asset to `to` instead, with all the gas msg.sender
     * gives: for a recipient that cannot take the payment itself (a token blacklists it, its
     * receive refuses). Reverts, keeping the claim whole, if `to` or the token refuses. */
    function claimTo(address asset, address to) external nonReentrant {
        if (to == address(0) || to == address(this)) revert ZeroRecipient();
        _claimTo(asset, to);
    }

    // ---- views

    function balanceOf(address account, address asset) external view returns (uint256) {
        return _balances[account][asset];
    }

    function signers() external view returns (address[] memory) {
        return _signers;
    }

    function threshold() external view returns (uint256) {
        return _threshold;
    }

    function setVersion() external view returns (uint256) {
        return _setVersion;
    }

    function minimumDeposit(address asset) external view returns (uint256) {
        return _minDeposit[asset];
    }

    function limitsVersion() external view returns (uint256) {
        return _limitsVersion;
    }

    function claimable(address recipient, address asset) external view returns (uint256) {
        return _claimable[recipient][asset];
    }

    function nonceUsed(uint256 nonce) external view returns (bool) {
        return _nonceUsed[nonce];
    }

    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function instructionDigest(Instruction calldata ins) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    INSTRUCTION_TYPEHASH,
                    ins.kind,
                    ins.account,
                    ins.asset,
                    ins.amount,
                    ins.recipient,
                    ins.nonce,
                    ins.deadline
                )
            )
        );
    }

    function rotateDigest(address[] calldata newSigners, uint256 newThreshold, uint256 newVersion)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(ROTATE_TYPEHASH, keccak256(abi.encodePacked(newSigners)), newThreshold, newVersion))
        );
    }

    function limitsDigest(address[] calldata assets, uint256[] calldata minimums, uint256 version)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    LIMITS_TYPEHASH, keccak256(abi.encodePacked(assets)), keccak256(abi.encodePacked(minimums)), version
                )
            )
        );
    }

    // ---- internals

    function _nextSeq() private returns (uint64) {
        return ++eventSeq;
    }

    function _installSet(address[] memory set, uint256 newThreshold, uint256 version) private {
        uint256 n = set.length;
        if (n == 0) revert EmptySignerSet();
        if (newThreshold == 0 || newThreshold > n) revert BadThreshold(newThreshold, n);
        address prev = address(0);
        for (uint256 i = 0; i < n; i++) {
            address s = set[i];
            if (s == address(0)) revert ZeroSigner();
            if (s <= prev) revert SignersNotAscending();
            _memberOfVersion[s] = version;
            prev = s;
        }
        _signers = set;
        _threshold = newThreshold;
        _setVersion = version;
    }

    /* The whole of msg.sender's claim in asset, paid to `to` or not at all: the claim is cleared
     * before the call (a re-entered claim finds nothing even without the guard) and restored by
     * the revert of a failed payment. */
    function _claimTo(address asset, address to) private {
        uint256 amount = _claimable[msg.sender][asset];
        if (amount == 0) revert NothingToClaim(asset);
        _claimable[msg.sender][asset] = 0;
        if (asset == NATIVE) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert NativeTransferFailed(to, amount);
        } else {
            IERC20(asset).safeTransfer(to, amount);
        }
        emit Claimed(msg.sender, asset, amount, to);
    }

    function _installLimits(address[] memory assets, uint256[] memory minimums, uint256 version) private {
        uint256 n = assets.length;
        if (n != minimums.length) revert LimitsLengthMismatch(n, minimums.length);
        for (uint256 i = 0; i < n; i++) {
            if (i > 0 && assets[i] <= assets[i - 1]) revert AssetsNotAscending();
            _minDeposit[assets[i]] = minimums[i];
        }
        _limitsVersion = version;
        emit LimitsSet(version, assets, minimums);
    }

    function _checkMinimum(address asset, uint256 amount) private view {
        uint256 minimum = _minDeposit[asset];
        if (minimum == 0) revert AssetNotAllowed(asset);
        if (amount < minimum) revert DepositBelowMinimum(asset, amount, minimum);
    }

    /* Pays amount of asset to `to` with a bounded call; false when `to` (or the token) refused,
     * failed or ran out of the gas it was given. Nothing the callee returns is copied beyond one
     * word, so neither its gas use nor its return data can cost more than the bound. Reverts
     * (GasTooLow) unless the callee can get its whole allowance (a call passes on at most 63/64 of
     * what is left) and the vault can still finish afterwards: otherwise a caller could starve a
     * willing recipient into a deferral, and a gas estimate could settle on the cheaper path. */
    function _tryPay(address asset, address to, uint256 amount) private returns (bool ok) {
        uint256 callGas = asset == NATIVE ? NATIVE_GAS_STIPEND : TOKEN_TRANSFER_GAS;
        uint256 needed = callGas + callGas / 63 + 1 + CALL_OVERHEAD_GAS + AFTER_CALL_GAS;
        if (gasleft() < needed) revert GasTooLow(gasleft(), needed);
        if (asset == NATIVE) {
            assembly ("memory-safe") {
                ok := call(callGas, to, amount, 0, 0, 0, 0)
            }
            return ok;
        }
        bytes4 selector = IERC20.transfer.selector;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, selector)
            mstore(add(p, 4), to)
            mstore(add(p, 36), amount)
            mstore(0, 0)
            let success := call(callGas, asset, 0, p, 68, 0, 32)
            /* SafeERC20's rule: no return data from a contract, or a first word of exactly 1 */
            let returned := returndatasize()
            let noData := and(iszero(returned), gt(extcodesize(asset), 0))
            ok := and(success, or(noData, and(gt(returned, 31), eq(mload(0), 1))))
        }
    }

    /* Every signature must recover to a current member, in strictly ascending address order, and
     * there must be at least threshold of them. */
    function _checkQuorum(bytes32 digest, bytes[] calldata signatures) private view {
        uint256 n = signatures.length;
        if (n < _threshold) revert NotEnoughSigners(n, _threshold);
        uint256 version = _setVersion;
        address prev = address(0);
        for (uint256 i = 0; i < n; i++) {
            address s = _recover(digest, signatures[i], i);
            if (s <= prev) revert SignersNotAscending();
            if (_memberOfVersion[s] != version) revert UnknownSigner(s);
            prev = s;
        }
    }

    function _recover(bytes32 digest, bytes calldata sig, uint256 index) private pure returns (address) {
        if (sig.length != SIGNATURE_BYTES) revert BadSignatureLength(index, sig.length);
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v != 27 && v != 28) revert BadSignatureV(index, v);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, v, r, s);
        if (err == ECDSA.RecoverError.InvalidSignatureS) revert SignatureHighS(index);
        if (err != ECDSA.RecoverError.NoError) revert BadSignature(index);
        return signer;
    }
}
