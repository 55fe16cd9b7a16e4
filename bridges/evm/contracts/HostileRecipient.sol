// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/*
 * HostileRecipient - for tests only: a release's recipient that refuses native coin on purpose,
 * to show that CollateralVault's payments cannot be used against the executors that send them.
 * Its mode decides what receive() does:
 *
 *   0 accept    takes the coin (a well-behaved smart-contract wallet)
 *   1 revert    refuses it with Refused()
 *   2 burn      consumes every unit of gas it is given (the INVALID opcode)
 *   3 reenter   calls claimTo(NATIVE, this) back on the sender (the vault, paying a claim), keeps
 *               the inner call's error selector in reentryError, and takes the coin
 *
 * Anyone may change the mode. claimFrom(vault, asset) calls vault.claim(asset) as this contract,
 * so a deferred payment can be claimed once the mode is back to accept; claimToFrom(vault, asset,
 * to) calls vault.claimTo(asset, to) as this contract.
 */

interface IClaimable {
    function claim(address asset) external;
    function claimTo(address asset, address to) external;
}

contract HostileRecipient {
    uint8 public constant ACCEPT = 0;
    uint8 public constant REVERT = 1;
    uint8 public constant BURN = 2;
    uint8 public constant REENTER = 3;

    uint8 public mode;
    /* the selector of the error the re-entered claimTo reverted with (mode 3); 0 if it did not */
    bytes4 public reentryError;

    error Refused();

    constructor(uint8 mode_) {
        mode = mode_;
    }

    function setMode(uint8 mode_) external {
        mode = mode_;
    }

    function claimFrom(address vault, address asset) external {
        IClaimable(vault).claim(asset);
    }

    function claimToFrom(address vault, address asset, address to) external {
        IClaimable(vault).claimTo(asset, to);
    }

    receive() external payable {
        uint8 m = mode;
        if (m == REVERT) revert Refused();
        if (m == REENTER) {
            try IClaimable(msg.sender).claimTo(address(0), address(this)) {
                reentryError = bytes4(0);
            } catch (bytes memory err) {
                reentryError = bytes4(err);
            }
            return;
        }
        if (m == BURN) {
            assembly {
                invalid()
            }
        }
    }
}
